"""Reads of conversations and messages: SQLAlchemy Core rows of the columns a request needs.

The GraphQL types turn these rows into nodes (``from_values``); nothing here builds ORM
objects. Big text columns (a message's ``content``, a conversation's ``metadata``) are read
only when their field is selected. Pages are cut in SQL (``gql.batched.row_connection``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import Row, Select, select

from synapse_gql.conversations.repository import ConversationOrder, Criteria, conditions, sort_key
from synapse_gql.gql.batched import RowList, RowShape, row_connection
from synapse_gql.gql.pagination import ColumnExpr, Connection, PageArgs, SortKey
from synapse_gql.gql.selection import ConnectionSelection
from synapse_gql.models import Conversation, Message

if TYPE_CHECKING:
    from synapse_gql.context import Info

NodeT = TypeVar("NodeT")
Scope = Literal["workspace", "project"]

CONVERSATION_COLUMNS: dict[str, ColumnExpr] = {
    "db_id": Conversation.id,
    "workspace_id": Conversation.workspace_id,
    "project_id": Conversation.project_id,
    "agent_id": Conversation.agent_id,
    "created_by_id": Conversation.created_by_id,
    "title": Conversation.title,
    "status": Conversation.status,
    "metadata": Conversation.metadata_,
    "message_count": Conversation.message_count,
    "total_input_tokens": Conversation.total_input_tokens,
    "total_output_tokens": Conversation.total_output_tokens,
    "total_cost": Conversation.total_cost,
    "last_message_at": Conversation.last_message_at,
    "created_at": Conversation.created_at,
    "updated_at": Conversation.updated_at,
}
MESSAGE_COLUMNS: dict[str, ColumnExpr] = {
    "db_id": Message.id,
    "conversation_id": Message.conversation_id,
    "author_id": Message.author_id,
    "llm_id": Message.llm_id,
    "parent_id": Message.parent_id,
    "reply_to_id": Message.reply_to_id,
    "role": Message.role,
    "content": Message.content,
    "status": Message.status,
    "input_tokens": Message.input_tokens,
    "output_tokens": Message.output_tokens,
    "cost": Message.cost,
    "latency_ms": Message.latency_ms,
    "time_to_first_token_ms": Message.time_to_first_token_ms,
    "finish_reason": Message.finish_reason,
    "error_code": Message.error_code,
    "error_message": Message.error_message,
    "stream_sequence": Message.stream_sequence,
    "created_at": Message.created_at,
    "updated_at": Message.updated_at,
    "completed_at": Message.completed_at,
}
# Columns read only when the GraphQL field that shows them is selected: GraphQL name -> column.
CONVERSATION_ON_DEMAND = {"metadata": "metadata"}
MESSAGE_ON_DEMAND = {"content": "content", "errorMessage": "error_message"}

PARENTS = {"workspace": Conversation.workspace_id, "project": Conversation.project_id}
MESSAGES = RowList(
    name="messages",
    columns=MESSAGE_COLUMNS,
    parent=Message.conversation_id,
    key=SortKey(Message.created_at, Message.id, descending=False),
)


def _names(
    columns: dict[str, Any], on_demand: dict[str, str], selected: Iterable[str]
) -> tuple[str, ...]:
    """Every column but the on-demand ones whose field is not in ``selected``."""
    skipped = set(on_demand.values()) - {on_demand[f] for f in selected if f in on_demand}
    return tuple(name for name in columns if name not in skipped)


def _select(columns: dict[str, ColumnExpr]) -> Select[Any]:
    return select(*(column.label(name) for name, column in columns.items()))


def _in_order(rows: Sequence[Row[Any]], ids: Sequence[uuid.UUID]) -> list[Row[Any] | None]:
    found = {row.db_id: row for row in rows}
    return [found.get(i) for i in ids]


class ConversationLoader:
    """Conversations of a request: by id (batched) and pages of a workspace or project."""

    def __init__(self, info: Info) -> None:
        self.info = info
        self.loaders = info.context.loaders

    async def one(self, conversation_id: uuid.UUID) -> Row[Any] | None:
        """The conversation (every column), for a parent the caller was allowed to read."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[Row[Any] | None]:
            stmt = _select(CONVERSATION_COLUMNS).where(Conversation.id.in_(ids))
            return _in_order(await self.loaders.fetch(stmt), ids)

        return await self.loaders.get("conversation_rows", batch).load(conversation_id)

    async def visible(
        self, ids: Sequence[uuid.UUID], readable_workspaces: Select[Any]
    ) -> list[Row[Any] | None]:
        """Conversations by id in one statement, None where missing or in a workspace
        outside ``readable_workspaces``."""
        stmt = _select(CONVERSATION_COLUMNS).where(
            Conversation.id.in_(ids), Conversation.workspace_id.in_(readable_workspaces)
        )
        return _in_order(await self.loaders.fetch(stmt), ids)

    async def page(
        self,
        scope: Scope,
        parent_id: uuid.UUID,
        criteria: Criteria,
        order: ConversationOrder,
        args: PageArgs,
        selection: ConnectionSelection,
        build: Callable[[Sequence[str], Sequence[Any]], NodeT],
    ) -> Connection[NodeT]:
        """A page of the conversations of a workspace or project matching ``criteria``;
        ``build(names, row)`` makes a node of a row's leading columns."""
        spec = RowList(
            name=("conversations", scope, criteria, order),
            columns=CONVERSATION_COLUMNS,
            parent=PARENTS[scope],
            key=sort_key(order),
            where=conditions(criteria),
        )
        names = _names(CONVERSATION_COLUMNS, CONVERSATION_ON_DEMAND, selection.node_fields)
        shape = RowShape(names, selection.total_count)
        return await row_connection(self.info, spec, parent_id, args, shape, build)


class MessageLoader:
    """Messages of a request: by id (batched) and pages of a conversation, oldest first."""

    def __init__(self, info: Info) -> None:
        self.info = info
        self.loaders = info.context.loaders

    async def one(self, message_id: uuid.UUID) -> Row[Any] | None:
        """The message (every column), for a parent the caller was allowed to read."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[Row[Any] | None]:
            stmt = _select(MESSAGE_COLUMNS).where(Message.id.in_(ids))
            return _in_order(await self.loaders.fetch(stmt), ids)

        return await self.loaders.get("message_rows", batch).load(message_id)

    async def visible(
        self, ids: Sequence[uuid.UUID], readable_conversations: Select[Any]
    ) -> list[Row[Any] | None]:
        """Messages by id in one statement, None where missing or in a conversation outside
        ``readable_conversations``."""
        stmt = _select(MESSAGE_COLUMNS).where(
            Message.id.in_(ids), Message.conversation_id.in_(readable_conversations)
        )
        return _in_order(await self.loaders.fetch(stmt), ids)

    async def page(
        self,
        conversation_id: uuid.UUID,
        args: PageArgs,
        selection: ConnectionSelection,
        build: Callable[[Sequence[str], Sequence[Any]], NodeT],
    ) -> Connection[NodeT]:
        """A page of the conversation's messages (batched across conversations);
        ``build(names, row)`` makes a node of a row's leading columns."""
        names = _names(MESSAGE_COLUMNS, MESSAGE_ON_DEMAND, selection.node_fields)
        shape = RowShape(names, selection.total_count)
        return await row_connection(self.info, MESSAGES, conversation_id, args, shape, build)
