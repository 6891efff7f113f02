"""The ``Tag.conversations``, ``Tag.messages`` and ``Tag.projects`` fields, made by one
factory. No ``from __future__ import annotations`` here: the resolver's return type is
built from the factory's argument, so it must be evaluated when the function is defined."""

from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs


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
