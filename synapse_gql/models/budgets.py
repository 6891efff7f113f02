"""Workspace spend budgets and the alerts raised against them (and against providers)."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from sqlalchemy import (
    Boolean,
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
    str_enum,
    timestamp,
    updated_ts,
    uuid_pk,
)


class AlertKind(enum.Enum):
    SPEND_THRESHOLD = "spend_threshold"
    SPEND_LIMIT = "spend_limit"
    PROVIDER_ERRORS = "provider_errors"
    LATENCY_DEGRADED = "latency_degraded"


class AlertStatus(enum.Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Budget(Base):
    """A workspace's monthly spend limit, its soft thresholds (percent) and hard stop."""

    __tablename__ = "budgets"
    __table_args__ = (
        CheckConstraint("monthly_limit >= 0", name="limit_non_negative"),
        CheckConstraint("jsonb_typeof(thresholds) = 'array'", name="thresholds_array"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), unique=True
    )
    monthly_limit: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    thresholds: Mapped[list[int]] = mapped_column(
        JSONB,
        nullable=False,
        default=lambda: [50, 80, 100],
        server_default=text("'[50, 80, 100]'::jsonb"),
    )
    # When true, calls are refused once the month's spend reaches the limit.
    hard_stop: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class AlertEvent(Base):
    """An alert raised for a workspace.

    The unique key makes a spend threshold fire once per period; rows without a
    threshold or period (provider errors, latency) are not deduplicated by it,
    since PostgreSQL treats NULLs as distinct.
    """

    __tablename__ = "alert_events"
    __table_args__ = (
        UniqueConstraint("workspace_id", "kind", "threshold_percent", "period_start"),
        Index(None, "workspace_id", "created_at"),
        CheckConstraint("threshold_percent > 0", name="threshold_positive"),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    budget_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("budgets.id", ondelete="SET NULL")
    )
    kind: Mapped[AlertKind] = mapped_column(str_enum(AlertKind, "alert_kind"))
    status: Mapped[AlertStatus] = mapped_column(
        str_enum(AlertStatus, "alert_status"), default=AlertStatus.OPEN
    )
    threshold_percent: Mapped[int | None] = mapped_column(Integer)
    period_start: Mapped[timestamp | None]
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[json_object]
    created_at: Mapped[created_ts]
    resolved_at: Mapped[timestamp | None]
