"""Project listing and ``node`` resolution."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select

from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey, paginate
from synapse_gql.gql.relay import register_node
from synapse_gql.models import Project, ProjectStatus
from synapse_gql.projects.types import ProjectType
from synapse_gql.workspaces.access import visible_rows


async def project_connection(
    info: Info, workspace_id: uuid.UUID, include_archived: bool, args: PageArgs
) -> Connection[ProjectType]:
    """Projects of a workspace the caller already may read."""
    stmt = select(Project).where(Project.workspace_id == workspace_id)
    if not include_archived:
        stmt = stmt.where(Project.status == ProjectStatus.ACTIVE)
    settings = info.context.settings
    return await paginate(
        info.context.sessions,
        stmt,
        SortKey(Project.created_at, Project.id),
        args,
        ProjectType.from_row,
        default_size=settings.default_page_size,
        max_size=settings.max_page_size,
    )


async def _projects(info: Info, ids: Sequence[uuid.UUID]) -> list[ProjectType | None]:
    rows = await visible_rows(info, Project, ids)
    return [None if r is None else ProjectType.from_row(r) for r in rows]


register_node("Project", _projects)
