"""Hourly usage rollups: what :class:`UsageLog` rows add up to, kept current by metering."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, Money, str_enum
from synapse_gql.models.usage import ApiKeySource, UsageStatus

# The dimensions of a rollup row, in the order of its unique key.
ROLLUP_DIMENSIONS = (
    "workspace_id",
    "hour",
    "llm_id",
    "provider",
    "project_id",
    "user_id",
    "agent_id",
    "api_token_id",
    "status",
    "api_key_source",
)

ROLLUP_KEY = "uq_usage_rollups_dimensions"


class _RollupMeasures:
    """What every rollup row adds up: calls, the four token counts, the cost, the latency
    sum, and the log-spaced latency and time-to-first-token histograms."""

    calls: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger)
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[Decimal] = mapped_column(Money)
    latency_ms_sum: Mapped[int] = mapped_column(BigInteger)
    latency_hist: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    ttft_hist: Mapped[list[int]] = mapped_column(ARRAY(Integer))


class UsageRollup(_RollupMeasures, Base):
    """The usage of one hour (UTC), workspace, LLM, provider, project, user, agent,
    API token, status, key source: sums, and log-spaced latency and time-to-first-token
    histograms (:mod:`synapse_gql.analytics.histogram`) for percentiles.

    The dimension ids are the ones metered (no foreign keys but the workspace's: a deleted
    project keeps its rows here); ``latency_ms_sum`` and the histograms count the calls
    that reported the measure.
    """

    __tablename__ = "usage_rollups"
    __table_args__ = (
        UniqueConstraint(*ROLLUP_DIMENSIONS, name=ROLLUP_KEY, postgresql_nulls_not_distinct=True),
        Index(None, "user_id", "hour"),
        Index(None, "llm_id", "hour"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    hour: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    llm_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    provider: Mapped[str] = mapped_column(String(50))
    project_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    api_token_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[UsageStatus] = mapped_column(str_enum(UsageStatus, "usage_status"))
    api_key_source: Mapped[ApiKeySource] = mapped_column(str_enum(ApiKeySource, "api_key_source"))


COARSE_ROLLUP_DIMENSIONS = ("workspace_id", "period", "llm_id", "provider")


class _CoarseRollup(_RollupMeasures):
    """The columns of a rollup by period (a day or a month, UTC), workspace, LLM and
    provider: the same sums and histograms as :class:`UsageRollup`, with the errors and
    cancellations counted."""

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    period: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    llm_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    provider: Mapped[str] = mapped_column(String(50))
    errors: Mapped[int] = mapped_column(BigInteger)
    cancelled: Mapped[int] = mapped_column(BigInteger)


class UsageRollupDaily(_CoarseRollup, Base):
    """The usage of one day (UTC), workspace, LLM and provider, so that summaries by
    time, model and provider read a few rows per day."""

    __tablename__ = "usage_rollups_daily"
    __table_args__ = (
        UniqueConstraint(*COARSE_ROLLUP_DIMENSIONS, name="uq_usage_rollups_daily_dimensions"),
        Index(None, "llm_id", "period"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))


class UsageRollupMonthly(_CoarseRollup, Base):
    """The usage of one calendar month (UTC), workspace, LLM and provider, so that
    summaries by month read a few rows per month."""

    __tablename__ = "usage_rollups_monthly"
    __table_args__ = (
        UniqueConstraint(*COARSE_ROLLUP_DIMENSIONS, name="uq_usage_rollups_monthly_dimensions"),
        Index(None, "llm_id", "period"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
