"""The usage log: one row per LLM call, success or error, priced when it happened."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import (
    Base,
    Money,
    created_ts,
    json_object,
    money,
    str_enum,
    uuid_pk,
)


class UsageStatus(enum.Enum):
    SUCCESS = "success"
    ERROR = "error"
    CANCELLED = "cancelled"


class ApiKeySource(enum.Enum):
    """Whose API key paid for the call; ``none`` when no key was found."""

    USER = "user"
    WORKSPACE = "workspace"
    GLOBAL = "global"
    NONE = "none"


class UsageLog(Base):
    """One LLM call. Append-only: it keeps the price charged and the model id as called.

    ``input_estimated`` / ``output_estimated`` say which counts were made locally because
    the provider did not report them; ``tokens_estimated`` is either. ``attempt`` numbers
    the attempt of the call (retried attempts each have a row, zero tokens when refused).
    """

    __tablename__ = "usage_logs"
    __table_args__ = (
        Index(None, "workspace_id", "created_at"),
        Index(None, "user_id", "created_at"),
        Index(None, "llm_id", "created_at"),
        Index(None, "conversation_id", "created_at"),
        # Usage by project, and the SET NULL scan when a project is deleted.
        Index(None, "project_id", "created_at"),
        Index(None, "message_id"),
        # What an API token spent (API-token budgets), and the SET NULL scan on revoke.
        Index(None, "api_token_id", "created_at"),
        # Usage by agent, and the SET NULL scan when an agent is deleted.
        Index(None, "agent_id", "created_at"),
        CheckConstraint(
            "input_tokens >= 0 AND output_tokens >= 0 AND total_tokens >= 0",
            name="tokens_non_negative",
        ),
        CheckConstraint(
            "input_price_per_million >= 0 AND output_price_per_million >= 0 AND cost >= 0",
            name="price_non_negative",
        ),
        CheckConstraint(
            "cache_read_tokens >= 0 AND cache_write_tokens >= 0", name="cache_tokens_non_negative"
        ),
        CheckConstraint(
            "latency_ms >= 0 AND time_to_first_token_ms >= 0", name="latency_non_negative"
        ),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
    )

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL")
    )
    conversation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL")
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    # The API token the call was made with (null: an access token, or no request).
    api_token_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="SET NULL")
    )
    # The agent of the call's conversation when it was metered.
    agent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    # RESTRICT: billed history must keep its model and price.
    llm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("llms.id", ondelete="RESTRICT"))
    llm_price_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("llm_prices.id", ondelete="RESTRICT")
    )
    provider: Mapped[str] = mapped_column(String(50))
    model_id: Mapped[str] = mapped_column(String(200))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Tokens read from / written to the provider's prompt cache; ``input_tokens`` is the
    # uncached input only, so the four token counts never overlap.
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    total_tokens: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    input_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    output_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    input_price_per_million: Mapped[Decimal] = mapped_column(Money)
    output_price_per_million: Mapped[Decimal] = mapped_column(Money)
    # The cache prices charged; null when the model had none (cached tokens paid as input).
    cache_read_price_per_million: Mapped[Decimal | None] = mapped_column(Money)
    cache_write_price_per_million: Mapped[Decimal | None] = mapped_column(Money)
    cost: Mapped[money]
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[UsageStatus] = mapped_column(str_enum(UsageStatus, "usage_status"))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[json_object]
    api_key_source: Mapped[ApiKeySource] = mapped_column(str_enum(ApiKeySource, "api_key_source"))
    created_at: Mapped[created_ts]
