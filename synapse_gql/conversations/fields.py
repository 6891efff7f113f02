"""The ``conversations`` field, made once for workspaces and projects."""

from __future__ import annotations

from typing import Any, Literal

import strawberry

from synapse_gql.context import Info
from synapse_gql.conversations.inputs import (
    ConversationFilter,
    ConversationOrder,
    ConversationOrderType,
)
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import ConversationRef


def conversations_field(scope: Literal["workspace", "project"], description: str) -> Any:
    """``conversations(filter, orderBy, first, after, last, before)`` of ``scope`` (batched)."""

    async def conversations(
        root: Any,
        info: Info,
        filter: ConversationFilter | None = None,
        order_by: ConversationOrderType = ConversationOrder.LAST_ACTIVITY,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ConversationRef]:
        from synapse_gql.conversations.queries import conversation_connection

        args = PageArgs(first, after, last, before)
        return await conversation_connection(info, scope, root.db_id, filter, order_by, args)

    return strawberry.field(resolver=conversations, description=description)
