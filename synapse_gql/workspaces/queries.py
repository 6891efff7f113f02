"""Workspace queries and ``node`` resolution for workspace types."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id, register_node
from synapse_gql.models import MemberRole, WorkspaceInvitation, WorkspaceMember
from synapse_gql.workspaces.access import visible_rows
from synapse_gql.workspaces.loaders import WorkspaceLoader
from synapse_gql.workspaces.types import InvitationType, MemberType, WorkspaceType


@strawberry.type
class WorkspaceQuery:
    @strawberry.field(permission_classes=AUTHENTICATED, description="Workspaces you belong to.")
    async def workspaces(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[WorkspaceType]:
        viewer = info.context.require_viewer()
        args = PageArgs(first, after, last, before)
        return await WorkspaceLoader(info).page(viewer.id, args, WorkspaceType.of_row)

    @strawberry.field(description="A workspace you belong to, by ID or slug.")
    async def workspace(
        self, info: Info, id: strawberry.ID | None = None, slug: str | None = None
    ) -> WorkspaceType | None:
        viewer = info.context.viewer
        if viewer is None or (id is None and slug is None):
            return None
        workspace_id = None if id is None else decode_id(id, "Workspace")
        row = await WorkspaceLoader(info).find(viewer.id, workspace_id, slug)
        return None if row is None else WorkspaceType.of_row(row)


async def _workspaces(info: Info, ids: Sequence[uuid.UUID]) -> list[WorkspaceType | None]:
    viewer = info.context.viewer
    if viewer is None:
        return [None] * len(ids)
    rows = await WorkspaceLoader(info).visible(ids, viewer.id)
    return [None if r is None else WorkspaceType.of_row(r) for r in rows]


async def _members(info: Info, ids: Sequence[uuid.UUID]) -> list:
    rows = await visible_rows(info, WorkspaceMember, ids, MemberRole.VIEWER)
    return [None if r is None else MemberType.from_row(r) for r in rows]


async def _invitations(info: Info, ids: Sequence[uuid.UUID]) -> list:
    rows = await visible_rows(info, WorkspaceInvitation, ids, MemberRole.ADMIN)
    return [None if r is None else InvitationType.from_row(r) for r in rows]


register_node("Workspace", _workspaces)
register_node("WorkspaceMember", _members)
register_node("WorkspaceInvitation", _invitations)
