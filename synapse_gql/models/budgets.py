"""Scoped spend budgets, their monthly usage and open reservations, and the alerts raised
against them (and against providers)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
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


class AlertKind(enum.Enum):
    SPEND_THRESHOLD = "spend_threshold"
    SPEND_LIMIT = "spend_limit"
    PROVIDER_ERROR_RATE = "provider_error_rate"
    PROVIDER_LATENCY = "provider_latency"


class AlertSeverity(enum.Enum):
    WARNING = "warning"
    CRITICAL = "critical"


# Reaching a budget's limit and a failing provider are critical, the rest a warning: the
# database derives the severity from the kind, so no writer can set another.
SEVERITY_SQL = (
    "CASE WHEN kind IN ('spend_limit', 'provider_error_rate') THEN 'critical' ELSE 'warning' END"
)


class AlertStatus(enum.Enum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class BudgetScope(enum.Enum):
    """What a budget covers: the whole workspace, one project, one member or one API token."""

    WORKSPACE = "workspace"
    PROJECT = "project"
    MEMBER = "member"
    API_TOKEN = "api_token"


class Budget(Base):
    """A monthly spend limit over a scope of a workspace, its soft thresholds (percent) and
    hard stop; one per (workspace, scope, target)."""

    __tablename__ = "budgets"
    __table_args__ = (
        CheckConstraint("monthly_limit >= 0", name="limit_non_negative"),
        CheckConstraint("jsonb_typeof(thresholds) = 'array'", name="thresholds_array"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        CheckConstraint("(scope = 'workspace') = (target_id IS NULL)", name="target_matches_scope"),
        UniqueConstraint("workspace_id", "scope", "target_id", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    scope: Mapped[BudgetScope] = mapped_column(
        str_enum(BudgetScope, "budget_scope"),
        default=BudgetScope.WORKSPACE,
        server_default=BudgetScope.WORKSPACE.value,
    )
    # The project, member (user id) or API token covered; NULL for the whole workspace.
    target_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    monthly_limit: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    thresholds: Mapped[list[int]] = mapped_column(
        JSONB,
        nullable=False,
        default=lambda: [50, 80, 100],
        server_default=text("'[50, 80, 100]'::jsonb"),
    )
    # When true, calls are refused when their worst case does not fit under the limit.
    hard_stop: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class BudgetUsage(Base):
    """A budget's spend and open reservations in one period (a calendar month, UTC).

    Calls reserve with a conditional update of this row (``spent + reserved + amount <=
    limit``), so concurrent calls can never together pass a hard stop.
    """

    __tablename__ = "budget_usage"
    __table_args__ = (
        CheckConstraint("spent >= 0", name="spent_non_negative"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
    )

    budget_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("budgets.id", ondelete="CASCADE"), primary_key=True
    )
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    spent: Mapped[money]
    reserved: Mapped[money]


class BudgetReservation(Base):
    """An open reservation of one call's worst-case cost on every budget covering it.

    Whoever ends the call (its generation, a stop, the stale-generation sweep) deletes the
    row while metering it, so a reservation is released exactly once.
    """

    __tablename__ = "budget_reservations"

    id: Mapped[uuid_pk]
    budget_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), nullable=False)
    period_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[created_ts]


class AlertEvent(Base):
    """An alert raised for a workspace: open, then acknowledged and/or resolved.

    The unique key makes a spend threshold fire once per budget and period; rows without a
    budget, threshold or period (provider health) are not deduplicated by it, since
    PostgreSQL treats NULLs as distinct: the partial unique index on (workspace, kind,
    provider) keeps one open or acknowledged episode per provider instead.
    """

    __tablename__ = "alert_events"
    __table_args__ = (
        UniqueConstraint("budget_id", "kind", "threshold_percent", "period_start"),
        Index(None, "workspace_id", "created_at"),
        CheckConstraint("threshold_percent > 0", name="threshold_positive"),
        Index(
            "uq_alert_events_open_episode",
            "workspace_id",
            "kind",
            "provider",
            unique=True,
            postgresql_where=text("provider IS NOT NULL AND status IN ('open', 'acknowledged')"),
        ),
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
    severity: Mapped[AlertSeverity] = mapped_column(
        str_enum(AlertSeverity, "alert_severity"), Computed(SEVERITY_SQL, persisted=True)
    )
    # The provider of a provider-health episode; NULL for spend alerts.
    provider: Mapped[str | None] = mapped_column(String(50))
    acknowledged_at: Mapped[timestamp | None]
    acknowledged_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
