"""The ``projects`` connection field, attached to ``Workspace``."""

from __future__ import annotations

from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import ProjectRef


def projects_field() -> Any:
    """A ``projects(includeArchived, first, after, last, before)`` connection of a workspace."""

    async def projects(
        root: Any,
        info: Info,
        include_archived: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ProjectRef]:
        from synapse_gql.projects.types import project_connection

        args = PageArgs(first, after, last, before)
        return await project_connection(info, root.db_id, include_archived, args)

    return strawberry.field(
        resolver=projects, description="Projects of the workspace, newest first."
    )
