"""GraphQL types of conversations, messages and per-conversation LLM usage."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

import strawberry
from sqlalchemy import Row
from strawberry.scalars import JSON

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.agents.types import AgentType, load_agent
from synapse_gql.catalog.types import LLMType, load_llm
from synapse_gql.context import Info
from synapse_gql.conversations.inputs import ConversationStatusType
from synapse_gql.conversations.loaders import (
    CONVERSATION_COLUMNS,
    MESSAGE_COLUMNS,
    ConversationLoader,
    MessageLoader,
)
from synapse_gql.errors import stored_error_code
from synapse_gql.feedback.fields import feedback_field, viewer_feedback_field
from synapse_gql.gql.errors import ErrorCodeType
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import ProjectRef, WorkspaceRef
from synapse_gql.gql.relay import Node, from_values, lazy_global_id, orm_values, to_global_id
from synapse_gql.gql.selection import connection_selection
from synapse_gql.models import (
    Conversation,
    ConversationLLM,
    Message,
    MessageRole,
    MessageStatus,
)
from synapse_gql.tags.fields import tags_field
from synapse_gql.usage.fields import billing_events_field, message_usage_field, usage_logs_field
from synapse_gql.workspaces.types import load_workspace

strawberry.enum(MessageRole, name="MessageRole")
MessageRoleType = MessageRole
strawberry.enum(MessageStatus, name="MessageStatus")
MessageStatusType = MessageStatus


async def load_conversation(
    info: Info, conversation_id: uuid.UUID | None
) -> ConversationType | None:
    """A conversation by database id (batched), for a child row the caller may read;
    None for None or a missing id."""
    if conversation_id is None:
        return None
    row = await ConversationLoader(info).one(conversation_id)
    return None if row is None else ConversationType.of_row(row)


async def load_message(info: Info, message_id: uuid.UUID | None) -> MessageType | None:
    """A message by database id (batched), for a child row the caller may read; None for
    None or a missing id."""
    if message_id is None:
        return None
    row = await MessageLoader(info).one(message_id)
    return None if row is None else MessageType.of_row(row)


def _decoded(message: MessageType) -> MessageType:
    """``message`` with its stored error code read as an ``ErrorCode``."""
    if message.error_code is not None:
        # Built from a row, the field still holds the stored string.
        message.error_code = stored_error_code(cast(str, message.error_code))
    return message


@lazy_global_id("Conversation")
@strawberry.type(
    name="Conversation",
    description="A thread of messages, with running totals of its LLM calls.",
)
class ConversationType(Node):
    usage_logs = usage_logs_field("conversation")
    billing_events = billing_events_field("conversation")
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    project_id: strawberry.Private[uuid.UUID | None]
    agent_id: strawberry.Private[uuid.UUID | None]
    created_by_id: strawberry.Private[uuid.UUID | None]
    title: str
    status: ConversationStatusType
    metadata: JSON
    message_count: int
    total_input_tokens: int
    total_output_tokens: int
    total_cost: Decimal = strawberry.field(description="USD spent on the conversation's calls.")
    last_message_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Conversation) -> ConversationType:
        """The node of an ORM conversation (one just written)."""
        return from_values(cls, orm_values(row, CONVERSATION_COLUMNS))

    @classmethod
    def of_row(cls, row: Row[Any]) -> ConversationType:
        """The node of a Core row of ``ConversationLoader`` (only the columns it read)."""
        return cls.of_values(row._fields, row)

    @classmethod
    def of_values(cls, names: Sequence[str], values: Sequence[Any]) -> ConversationType:
        """The node of the leading ``values`` of a row, named by ``names``."""
        return from_values(cls, zip(names, values, strict=False))

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        return await load_workspace(info, self.workspace_id)

    @strawberry.field
    async def project(self, info: Info) -> ProjectRef | None:
        from synapse_gql.projects.types import load_project

        return await load_project(info, self.project_id)

    @strawberry.field
    async def agent(self, info: Info) -> AgentType | None:
        return await load_agent(info, self.agent_id)

    @strawberry.field
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.created_by_id)

    @strawberry.field(description="Calls, tokens and cost per model used here, first used first.")
    async def llm_usage(self, info: Info) -> list[ConversationLLMType]:
        loader = info.context.loaders.children(
            ConversationLLM,
            ConversationLLM.conversation_id,
            order_by=(ConversationLLM.first_used_at, ConversationLLM.id),
        )
        return [ConversationLLMType.from_row(row) for row in await loader.load(self.db_id)]

    @strawberry.field(
        description="Messages, oldest first: `last: N` gives the newest N, `before` pages back."
    )
    async def messages(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[MessageType]:
        args = PageArgs(first, after, last, before)
        selection = connection_selection(info)
        return await MessageLoader(info).page(self.db_id, args, selection, MessageType.of_values)

    tags = tags_field("conversation")


@strawberry.type(
    name="ConversationLLM", description="Per conversation and model: calls, tokens, cost, latency."
)
class ConversationLLMType(Node):
    db_id: strawberry.Private[uuid.UUID]
    conversation_id: strawberry.Private[uuid.UUID]
    llm_id: strawberry.Private[uuid.UUID]
    call_count: int
    input_tokens: int
    output_tokens: int
    total_cost: Decimal
    average_latency_ms: float | None = strawberry.field(description="Null before the first call.")
    first_used_at: datetime
    last_used_at: datetime

    @classmethod
    def from_row(cls, row: ConversationLLM) -> ConversationLLMType:
        return cls(
            id=to_global_id("ConversationLLM", row.id),
            db_id=row.id,
            conversation_id=row.conversation_id,
            llm_id=row.llm_id,
            call_count=row.call_count,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            total_cost=row.total_cost,
            average_latency_ms=row.average_latency_ms,
            first_used_at=row.first_used_at,
            last_used_at=row.last_used_at,
        )

    @strawberry.field
    async def llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.llm_id)

    @strawberry.field
    async def conversation(self, info: Info) -> ConversationType | None:
        return await load_conversation(info, self.conversation_id)


@lazy_global_id("Message")
@strawberry.type(name="Message", description="One turn of a conversation.")
class MessageType(Node):
    usage_logs = usage_logs_field("message")
    billing_events = billing_events_field("message")
    db_id: strawberry.Private[uuid.UUID]
    conversation_id: strawberry.Private[uuid.UUID]
    author_id: strawberry.Private[uuid.UUID | None]
    llm_id: strawberry.Private[uuid.UUID | None]
    parent_id: strawberry.Private[uuid.UUID | None]
    reply_to_id: strawberry.Private[uuid.UUID | None]
    role: MessageRoleType
    content: str
    status: MessageStatusType
    input_tokens: int | None
    output_tokens: int | None
    cost: Decimal | None
    latency_ms: int | None
    time_to_first_token_ms: int | None
    finish_reason: str | None
    error_code: ErrorCodeType | None = strawberry.field(
        description="Why the call failed or stopped; null when it succeeded."
    )
    error_message: str | None
    stream_sequence: int = strawberry.field(
        description="Deltas of the answer streamed so far (saved every few seconds while it"
        " streams; final once it ended): resume `messageStream` after it."
    )
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    @classmethod
    def from_row(cls, row: Message) -> MessageType:
        """The node of an ORM message (one just written, or an event's)."""
        return _decoded(from_values(cls, orm_values(row, MESSAGE_COLUMNS)))

    @classmethod
    def of_row(cls, row: Row[Any]) -> MessageType:
        """The node of a Core row of ``MessageLoader`` (only the columns it read)."""
        return cls.of_values(row._fields, row)

    @classmethod
    def of_values(cls, names: Sequence[str], values: Sequence[Any]) -> MessageType:
        """The node of the leading ``values`` of a row, named by ``names``."""
        return _decoded(from_values(cls, zip(names, values, strict=False)))

    @strawberry.field(description="The user who wrote it; null for assistant messages.")
    async def author(self, info: Info) -> UserType | None:
        return await load_user(info, self.author_id)

    @strawberry.field(description="The model that wrote it (assistant messages).")
    async def llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.llm_id)

    @strawberry.field(description="The message this one edits or regenerates.")
    async def parent(self, info: Info) -> MessageType | None:
        return await load_message(info, self.parent_id)

    @strawberry.field(description="The question this answer replies to (assistant messages).")
    async def reply_to(self, info: Info) -> MessageType | None:
        return await load_message(info, self.reply_to_id)

    @strawberry.field
    async def conversation(self, info: Info) -> ConversationType | None:
        return await load_conversation(info, self.conversation_id)

    feedback = feedback_field()
    viewer_feedback = viewer_feedback_field()
    usage = message_usage_field()
    tags = tags_field("message")
