"""Workspace-scoped tags and their links to conversations, messages and projects."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, created_ts, str_enum, updated_ts, uuid_pk


class TagSource(enum.Enum):
    MANUAL = "manual"
    AUTOMATIC = "automatic"


class Tag(Base):
    """A label, unique by name within its workspace; ``color`` is a ``#rrggbb`` hex string."""

    __tablename__ = "tags"
    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        CheckConstraint("color ~ '^#[0-9a-fA-F]{6}$'", name="color_hex"),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    color: Mapped[str] = mapped_column(String(7), default="#6b7280", server_default="#6b7280")
    category: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[TagSource] = mapped_column(
        str_enum(TagSource, "tag_source"), default=TagSource.MANUAL
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class ConversationTag(Base):
    """A tag applied to a conversation."""

    __tablename__ = "conversation_tags"
    __table_args__ = (Index(None, "tag_id"),)

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[created_ts]


class MessageTag(Base):
    """A tag applied to a message."""

    __tablename__ = "message_tags"
    __table_args__ = (Index(None, "tag_id"),)

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[created_ts]


class ProjectTag(Base):
    """A tag applied to a project."""

    __tablename__ = "project_tags"
    __table_args__ = (Index(None, "tag_id"),)

    project_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    tag_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[created_ts]
