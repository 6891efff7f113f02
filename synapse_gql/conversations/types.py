"""GraphQL types of conversations, messages and per-conversation LLM usage."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from strawberry.scalars import JSON

from synapse_gql.accounts.types import UserType
from synapse_gql.agents.types import AgentType, load_llm
from synapse_gql.catalog.types import LLMType
from synapse_gql.context import Info
from synapse_gql.conversations.inputs import ConversationStatusType
from synapse_gql.errors import stored_error_code
from synapse_gql.gql.errors import ErrorCodeType
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import (
    FeedbackRef,
    ProjectRef,
    TagRef,
    UsageLogRef,
    WorkspaceRef,
    load_object,
)
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import (
    Agent,
    Conversation,
    ConversationLLM,
    Message,
    MessageRole,
    MessageStatus,
    Project,
    Workspace,
)
from synapse_gql.usage.fields import billing_events_field, usage_logs_field
from synapse_gql.workspaces.types import load_user, page_args

if TYPE_CHECKING:
    pass

MessageRoleType = strawberry.enum(MessageRole, name="MessageRole")
MessageStatusType = strawberry.enum(MessageStatus, name="MessageStatus")


async def _workspace(info: Info, workspace_id: uuid.UUID) -> WorkspaceRef | None:
    from synapse_gql.workspaces.types import WorkspaceType

    return await load_object(info, Workspace, workspace_id, WorkspaceType.from_row)


async def _conversation(info: Info, conversation_id: uuid.UUID) -> ConversationType | None:
    return await load_object(info, Conversation, conversation_id, ConversationType.from_row)


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
        return cls(
            id=to_global_id("Conversation", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            project_id=row.project_id,
            agent_id=row.agent_id,
            created_by_id=row.created_by_id,
            title=row.title,
            status=row.status,
            metadata=row.metadata_,
            message_count=row.message_count,
            total_input_tokens=row.total_input_tokens,
            total_output_tokens=row.total_output_tokens,
            total_cost=row.total_cost,
            last_message_at=row.last_message_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        return await _workspace(info, self.workspace_id)

    @strawberry.field
    async def project(self, info: Info) -> ProjectRef | None:
        from synapse_gql.projects.types import ProjectType

        if self.project_id is None:
            return None
        return await load_object(info, Project, self.project_id, ProjectType.from_row)

    @strawberry.field
    async def agent(self, info: Info) -> AgentType | None:
        if self.agent_id is None:
            return None
        return await load_object(info, Agent, self.agent_id, AgentType.from_row)

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
        from synapse_gql.conversations.queries import message_connection

        return await message_connection(info, self.db_id, page_args(first, after, last, before))

    @strawberry.field
    async def tags(self, info: Info) -> list[TagRef]:
        from synapse_gql.tags.queries import tags_of

        return await tags_of(info, "conversation", self.db_id)


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
        return await _conversation(info, self.conversation_id)


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
        return cls(
            id=to_global_id("Message", row.id),
            db_id=row.id,
            conversation_id=row.conversation_id,
            author_id=row.author_id,
            llm_id=row.llm_id,
            parent_id=row.parent_id,
            reply_to_id=row.reply_to_id,
            role=row.role,
            content=row.content,
            status=row.status,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cost=row.cost,
            latency_ms=row.latency_ms,
            time_to_first_token_ms=row.time_to_first_token_ms,
            finish_reason=row.finish_reason,
            error_code=stored_error_code(row.error_code),
            error_message=row.error_message,
            stream_sequence=row.stream_sequence,
            created_at=row.created_at,
            updated_at=row.updated_at,
            completed_at=row.completed_at,
        )

    @strawberry.field(description="The user who wrote it; null for assistant messages.")
    async def author(self, info: Info) -> UserType | None:
        return await load_user(info, self.author_id)

    @strawberry.field(description="The model that wrote it (assistant messages).")
    async def llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.llm_id)

    @strawberry.field(description="The message this one edits or regenerates.")
    async def parent(self, info: Info) -> MessageType | None:
        if self.parent_id is None:
            return None
        return await load_object(info, Message, self.parent_id, MessageType.from_row)

    @strawberry.field(description="The question this answer replies to (assistant messages).")
    async def reply_to(self, info: Info) -> MessageType | None:
        if self.reply_to_id is None:
            return None
        return await load_object(info, Message, self.reply_to_id, MessageType.from_row)

    @strawberry.field
    async def conversation(self, info: Info) -> ConversationType | None:
        return await _conversation(info, self.conversation_id)

    @strawberry.field(description="Ratings and comments on this message.")
    async def feedback(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[FeedbackRef]:
        from synapse_gql.feedback.queries import feedback_connection

        args: PageArgs = page_args(first, after, last, before)
        return await feedback_connection(info, self.db_id, args)

    @strawberry.field(description="Your own feedback on this message, if any.")
    async def viewer_feedback(self, info: Info) -> FeedbackRef | None:
        from synapse_gql.feedback.queries import viewer_feedback

        return await viewer_feedback(info, self.db_id)

    @strawberry.field(description="The latest usage record of the LLM call behind it.")
    async def usage(self, info: Info) -> UsageLogRef | None:
        from synapse_gql.usage.queries import message_usage

        return await message_usage(info, self.db_id)

    @strawberry.field
    async def tags(self, info: Info) -> list[TagRef]:
        from synapse_gql.tags.queries import tags_of

        return await tags_of(info, "message", self.db_id)
