"""Conversations, their messages and the per-conversation LLM aggregates."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import (
    Base,
    Money,
    created_ts,
    json_object,
    money,
    str_enum,
    timestamp,
    updated_ts,
    uuid_pk,
)


class ConversationStatus(enum.Enum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class MessageRole(enum.Enum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class MessageStatus(enum.Enum):
    PENDING = "pending"
    STREAMING = "streaming"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Conversation(Base):
    """A thread of messages in a workspace, with running totals kept by the send flow."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index(None, "workspace_id", "last_message_at"),
        Index(None, "workspace_id", "created_at"),
        Index(None, "project_id"),
        Index(None, "agent_id"),
        CheckConstraint(
            "message_count >= 0 AND total_input_tokens >= 0 AND total_output_tokens >= 0"
            " AND total_cost >= 0",
            name="totals_non_negative",
        ),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL")
    )
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(String(300), default="", server_default="")
    status: Mapped[ConversationStatus] = mapped_column(
        str_enum(ConversationStatus, "conversation_status"), default=ConversationStatus.ACTIVE
    )
    # ``metadata`` is reserved on declarative classes, hence the trailing underscore.
    metadata_: Mapped[json_object] = mapped_column("metadata")
    message_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_input_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_output_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_cost: Mapped[money]
    last_message_at: Mapped[timestamp | None]
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class Message(Base):
    """One turn of a conversation; an assistant message records the LLM call that wrote it.

    ``parent_id`` links a regenerated or edited message to the one it replaces;
    ``reply_to_id`` links an assistant message to the user message it answers.
    While an answer streams, ``content`` and ``stream_sequence`` are checkpointed (the
    checkpoint doubles as the heartbeat that tells a live generation from a stale one) and
    ``generation`` holds what is needed to meter the call should its process die.
    """

    __tablename__ = "messages"
    __table_args__ = (
        # Keyset pagination of a conversation's history.
        Index(None, "conversation_id", "created_at", "id"),
        Index(None, "parent_id"),
        Index(None, "reply_to_id"),
        # Finds streams orphaned by a crashed worker; tiny, since streaming rows are few.
        Index(None, "status", postgresql_where=text("status = 'streaming'")),
        CheckConstraint("input_tokens >= 0 AND output_tokens >= 0", name="tokens_non_negative"),
        CheckConstraint("cost >= 0", name="cost_non_negative"),
        CheckConstraint(
            "latency_ms >= 0 AND time_to_first_token_ms >= 0", name="latency_non_negative"
        ),
    )

    id: Mapped[uuid_pk]
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    role: Mapped[MessageRole] = mapped_column(str_enum(MessageRole, "message_role"))
    content: Mapped[str] = mapped_column(Text, default="", server_default="")
    # No default: a user's message is stored completed, an assistant's starts pending.
    status: Mapped[MessageStatus] = mapped_column(str_enum(MessageStatus, "message_status"))
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    llm_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("llms.id", ondelete="SET NULL"))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[Decimal | None] = mapped_column(Money)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer)
    finish_reason: Mapped[str | None] = mapped_column(String(50))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    stream_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    generation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The process generating a streaming answer (``generation_workers.id``; no foreign key:
    # a worker row that is gone counts as an expired lease).
    worker_id: Mapped[uuid.UUID | None] = mapped_column()
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]
    completed_at: Mapped[timestamp | None]


class ConversationLLM(Base):
    """Per conversation and LLM: call count, tokens, cost and latency; created on first use.

    Average latency is ``total_latency_ms / call_count``, so updates stay a plain increment.
    """

    __tablename__ = "conversation_llms"
    __table_args__ = (
        UniqueConstraint("conversation_id", "llm_id"),
        # The RESTRICT check on deleting an LLM, and "conversations that used this model".
        Index(None, "llm_id"),
        CheckConstraint(
            "call_count >= 0 AND input_tokens >= 0 AND output_tokens >= 0"
            " AND total_cost >= 0 AND total_latency_ms >= 0",
            name="totals_non_negative",
        ),
    )

    id: Mapped[uuid_pk]
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    llm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("llms.id", ondelete="RESTRICT"))
    call_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    total_cost: Mapped[money]
    total_latency_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    first_used_at: Mapped[created_ts]
    last_used_at: Mapped[created_ts]

    @property
    def average_latency_ms(self) -> float | None:
        """Mean latency over the calls, or None before the first call."""
        if not self.call_count:
            return None
        return self.total_latency_ms / self.call_count
