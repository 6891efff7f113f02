"""Project listing and ``node`` resolution."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from synapse_gql.context import Info
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.relay import register_node
from synapse_gql.models import Project, ProjectStatus
from synapse_gql.projects.types import ProjectType
from synapse_gql.workspaces.access import visible_rows


def _project_list(include_archived: bool) -> ChildList:
    where = [] if include_archived else [Project.status == ProjectStatus.ACTIVE]
    return ChildList(
        name=("projects", include_archived),
        model=Project,
        parent=Project.workspace_id,
        key=SortKey(Project.created_at, Project.id),
        where=where,
    )


async def project_connection(
    info: Info, workspace_id: uuid.UUID, include_archived: bool, args: PageArgs
) -> Connection[ProjectType]:
    """Projects of a workspace the caller already may read (batched across workspaces)."""
    spec = _project_list(include_archived)
    return await child_connection(info, spec, workspace_id, args, ProjectType.from_row)


async def _projects(info: Info, ids: Sequence[uuid.UUID]) -> list[ProjectType | None]:
    rows = await visible_rows(info, Project, ids)
    return [None if r is None else ProjectType.from_row(r) for r in rows]


register_node("Project", _projects)
