"""Saved dashboards: a workspace's named lists of widgets, each a stored GraphQL query
with its variables, a chart kind and a cache time."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, created_ts, short_text, str_enum, updated_ts, uuid_pk


class ChartKind(enum.Enum):
    """How a client draws a widget's data."""

    LINE = "line"
    BAR = "bar"
    TABLE = "table"
    NUMBER = "number"
    PIE = "pie"


class Dashboard(Base):
    """A user's dashboard in a workspace: private to its owner, or shared with the members."""

    __tablename__ = "dashboards"
    __table_args__ = (Index(None, "workspace_id", "created_at"),)

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(short_text())
    shared: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class DashboardWidget(Base):
    """One widget of a dashboard, at ``position`` (0, 1, ...)."""

    __tablename__ = "dashboard_widgets"
    __table_args__ = (
        UniqueConstraint("dashboard_id", "position"),
        CheckConstraint("position >= 0", name="position_non_negative"),
        CheckConstraint("cache_seconds >= 0", name="cache_seconds_non_negative"),
        CheckConstraint("jsonb_typeof(variables) = 'object'", name="variables_object"),
    )

    id: Mapped[uuid_pk]
    dashboard_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dashboards.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(short_text())
    operation: Mapped[str] = mapped_column(Text)
    variables: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    chart_kind: Mapped[ChartKind] = mapped_column(str_enum(ChartKind, "chart_kind"))
    cache_seconds: Mapped[int] = mapped_column(Integer, default=60, server_default="60")
