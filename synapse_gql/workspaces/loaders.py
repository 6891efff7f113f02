"""Reads of workspaces: SQLAlchemy Core rows, turned into nodes by the GraphQL types.

Every read by id or slug that the caller asks for directly is limited to the caller's
workspaces in SQL (``member_of``); ``one`` serves parents that were already authorized.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, Row, Select, select

from synapse_gql.gql.pagination import (
    ColumnExpr,
    Connection,
    PageArgs,
    SortKey,
    build_connection,
    count_query,
    fetch_rows_page,
)
from synapse_gql.models import Workspace
from synapse_gql.workspaces.membership import readable_workspaces

if TYPE_CHECKING:
    from synapse_gql.context import Info

NodeT = TypeVar("NodeT")

WORKSPACE_COLUMNS: dict[str, ColumnExpr] = {
    "db_id": Workspace.id,
    "owner_id": Workspace.owner_id,
    "default_llm_db_id": Workspace.default_llm_id,
    "fallback_llm_db_id": Workspace.fallback_llm_id,
    "name": Workspace.name,
    "slug": Workspace.slug,
    "description": Workspace.description,
    "plan": Workspace.plan,
    "settings": Workspace.settings,
    "created_at": Workspace.created_at,
    "updated_at": Workspace.updated_at,
}
WORKSPACE_ORDER = SortKey(Workspace.created_at, Workspace.id)


def member_of(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Workspaces where ``user_id`` holds any role: the predicate of every direct read."""
    return Workspace.id.in_(readable_workspaces(user_id))


def _select() -> Select[Any]:
    return select(*(column.label(name) for name, column in WORKSPACE_COLUMNS.items()))


class WorkspaceLoader:
    """Workspaces of a request: by id (batched), the viewer's by id or slug, and pages."""

    def __init__(self, info: Info) -> None:
        self.info = info
        self.loaders = info.context.loaders

    async def one(self, workspace_id: uuid.UUID) -> Row[Any] | None:
        """The workspace, for a child row the caller was allowed to read."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[Row[Any] | None]:
            rows = await self.loaders.fetch(_select().where(Workspace.id.in_(ids)))
            found = {row.db_id: row for row in rows}
            return [found.get(i) for i in ids]

        return await self.loaders.get("workspace_rows", batch).load(workspace_id)

    async def visible(self, ids: Sequence[uuid.UUID], user_id: uuid.UUID) -> list[Row[Any] | None]:
        """Workspaces by id in one statement, None where missing or not ``user_id``'s."""
        rows = await self.loaders.fetch(_select().where(Workspace.id.in_(ids), member_of(user_id)))
        found = {row.db_id: row for row in rows}
        return [found.get(i) for i in ids]

    async def find(
        self, user_id: uuid.UUID, workspace_id: uuid.UUID | None, slug: str | None
    ) -> Row[Any] | None:
        """``user_id``'s workspace with this id and/or slug, or None."""
        stmt = _select().where(member_of(user_id))
        if workspace_id is not None:
            stmt = stmt.where(Workspace.id == workspace_id)
        if slug is not None:
            stmt = stmt.where(Workspace.slug == slug)
        rows = await self.loaders.fetch(stmt)
        return rows[0] if rows else None

    async def page(
        self, user_id: uuid.UUID, args: PageArgs, build: Callable[[Row[Any]], NodeT]
    ) -> Connection[NodeT]:
        """A page of ``user_id``'s workspaces, oldest first; counted only when asked."""
        settings = self.info.context.settings
        stmt = _select().where(member_of(user_id))
        page = await fetch_rows_page(
            self.loaders.fetch,
            stmt,
            WORKSPACE_ORDER,
            args,
            default_size=settings.default_page_size,
            max_size=settings.max_page_size,
        )

        async def count() -> int:
            return int((await self.loaders.fetch(count_query(stmt)))[0][0])

        return build_connection(page, build, count)
