"""Agents: a named LLM configuration (model, prompt, sampling) that conversations inherit."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import (
    Base,
    created_ts,
    json_object,
    str_enum,
    updated_ts,
    uuid_pk,
)


class AgentStatus(enum.Enum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Agent(Base):
    """A system prompt plus an LLM and its parameters, scoped to a workspace (and project).

    ``parameters`` holds the provider parameters without a column of their own
    (stop sequences, penalties, response format ...).
    """

    __tablename__ = "agents"
    __table_args__ = (
        Index(None, "workspace_id", "status", "created_at"),
        Index(None, "project_id"),
        CheckConstraint("temperature >= 0 AND temperature <= 2", name="temperature_range"),
        CheckConstraint("top_p > 0 AND top_p <= 1", name="top_p_range"),
        CheckConstraint("max_tokens > 0", name="max_tokens_positive"),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    system_prompt: Mapped[str] = mapped_column(Text, default="", server_default="")
    # RESTRICT: a model an agent relies on is deactivated in the catalog, never deleted.
    llm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("llms.id", ondelete="RESTRICT"))
    fallback_llm_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("llms.id", ondelete="SET NULL")
    )
    temperature: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    max_tokens: Mapped[int | None] = mapped_column(Integer)
    top_p: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    parameters: Mapped[json_object]
    status: Mapped[AgentStatus] = mapped_column(
        str_enum(AgentStatus, "agent_status"), default=AgentStatus.ACTIVE
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]
