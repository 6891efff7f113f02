"""The ``Tag.conversations``, ``Tag.messages`` and ``Tag.projects`` fields, made by one
factory, and the ``tags`` field of conversations, messages and projects. No ``from
__future__ import annotations`` here: the ``tagged`` resolver's return type is built from
the factory's argument, so it must be evaluated when the function is defined."""

from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import TagRef


def tagged_field(kind: str, node_ref: Any, description: str) -> Any:
    """A connection of the ``kind`` entities that carry the tag (batched)."""

    async def tagged(
        root: Any,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[node_ref]:
        from synapse_gql.tags.queries import tagged_connection

        args = PageArgs(first, after, last, before)
        return await tagged_connection(info, kind, root.db_id, args)

    return strawberry.field(resolver=tagged, description=description)


def tags_field(kind: str, description: str | None = None) -> Any:
    """``tags`` of a ``kind`` entity (conversation, message or project), by name (batched)."""

    async def tags(root: Any, info: Info) -> list[TagRef]:
        from synapse_gql.tags.types import tags_of

        return await tags_of(info, kind, root.db_id)

    return strawberry.field(resolver=tags, description=description)


def workspace_tags_field() -> Any:
    """A ``tags(category, first, after, last, before)`` connection of a workspace."""

    async def tags(
        root: Any,
        info: Info,
        category: str | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[TagRef]:
        from synapse_gql.tags.types import tag_connection

        args = PageArgs(first, after, last, before)
        return await tag_connection(info, root.db_id, category, args)

    return strawberry.field(
        resolver=tags, description="Tags of the workspace by name, optionally of one category."
    )
