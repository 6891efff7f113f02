"""Who may do what in a workspace.

Reads go through a per-request loader of the viewer's roles; writes re-check the role
inside the writing transaction. A non-member gets NOT_FOUND, never FORBIDDEN, so ids
of other tenants reveal nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.context import Info
from synapse_gql.errors import Forbidden, NotFound
from synapse_gql.models import MemberRole, WorkspaceMember


async def viewer_role(info: Info, workspace_id: uuid.UUID) -> MemberRole | None:
    """The viewer's role in ``workspace_id`` (batched per request), None if not a member."""
    viewer = info.context.viewer
    if viewer is None:
        return None

    async def batch(ids: Sequence[uuid.UUID]) -> list[MemberRole | None]:
        stmt = select(WorkspaceMember).where(
            WorkspaceMember.user_id == viewer.id, WorkspaceMember.workspace_id.in_(ids)
        )
        roles = {m.workspace_id: m.role for m in await info.context.loaders.rows(stmt)}
        return [roles.get(i) for i in ids]

    return await info.context.loaders.get("viewer_roles", batch).load(workspace_id)


async def can_read(info: Info, workspace_id: uuid.UUID) -> bool:
    return await viewer_role(info, workspace_id) is not None


@cache
def _role_statement() -> Any:
    """A member's role in a workspace (``:workspace_id``, ``:user_id``), built once."""
    return select(WorkspaceMember.role).where(
        WorkspaceMember.workspace_id == bindparam("workspace_id"),
        WorkspaceMember.user_id == bindparam("user_id"),
    )


async def role_of(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID
) -> MemberRole | None:
    """The user's role in the workspace, None for non-members."""
    values = {"workspace_id": workspace_id, "user_id": user_id}
    role: MemberRole | None = await session.scalar(_role_statement(), values)
    return role


async def require_role(
    session: AsyncSession,
    workspace_id: uuid.UUID,
    user_id: uuid.UUID,
    minimum: MemberRole,
    *,
    field: str | Sequence[str] = ("input", "workspaceId"),
    what: str = "workspace",
) -> MemberRole:
    """The user's role when it is at least ``minimum``; NOT_FOUND for non-members.

    ``what`` names the object looked up by ``field``: a non-member gets the same error as
    for an ID that does not exist, so foreign IDs reveal nothing.
    """
    role = await role_of(session, workspace_id, user_id)
    if role is None:
        raise NotFound(f"No such {what}.", field=field)
    if role.rank < minimum.rank:
        raise Forbidden(
            f"This needs the {minimum.value} role or higher; you are {role.value}.", field=field
        )
    return role


async def visible_rows(
    info: Info,
    model: type[Any],
    ids: Sequence[uuid.UUID],
    minimum: MemberRole = MemberRole.VIEWER,
) -> list[Any]:
    """Rows of ``model`` by id, None where missing or outside the viewer's workspaces.

    ``model`` has a ``workspace_id`` column (or is ``Workspace`` itself). One query for
    the rows and one for the viewer's roles, whatever the number of ids.
    """
    rows = await info.context.loaders.rows(select(model).where(model.id.in_(ids)))
    workspace_ids = [
        row.id if model.__tablename__ == "workspaces" else row.workspace_id for row in rows
    ]
    roles = await asyncio.gather(*(viewer_role(info, w) for w in workspace_ids))
    found = {
        row.id: row
        for row, role in zip(rows, roles, strict=True)
        if role is not None and role.rank >= minimum.rank
    }
    return [found.get(i) for i in ids]
