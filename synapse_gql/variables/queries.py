"""Listing variables and secrets, and ``node`` resolution for them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import strawberry
from sqlalchemy import select

from synapse_gql.context import Info
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import register_node
from synapse_gql.models import MemberRole, UserVariable, WorkspaceSecret
from synapse_gql.variables.types import UserVariableType, WorkspaceSecretType, user_variables
from synapse_gql.workspaces.access import visible_rows


@strawberry.type
class VariableQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED, description="Your variables, by key (secrets masked)."
    )
    async def variables(self, info: Info) -> list[UserVariableType]:
        return await user_variables(info, info.context.require_viewer().id)


async def _own_variables(info: Info, ids: Sequence[uuid.UUID]) -> list[UserVariableType | None]:
    viewer = info.context.viewer
    if viewer is None:
        return [None] * len(ids)
    stmt = select(UserVariable).where(UserVariable.id.in_(ids), UserVariable.user_id == viewer.id)
    found = {row.id: row for row in await info.context.loaders.rows(stmt)}
    return [UserVariableType.from_row(found[i]) if i in found else None for i in ids]


async def _secrets(info: Info, ids: Sequence[uuid.UUID]) -> list[WorkspaceSecretType | None]:
    rows = await visible_rows(info, WorkspaceSecret, ids, MemberRole.ADMIN)
    return [None if r is None else WorkspaceSecretType.from_row(r) for r in rows]


register_node("UserVariable", _own_variables)
register_node("WorkspaceSecret", _secrets)
