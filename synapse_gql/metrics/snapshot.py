"""A workspace's live figures over a sliding window ending now, in one SQL statement.

The statement reads ``usage_logs`` through its ``(workspace_id, created_at)`` index for the
window's calls, spend, tokens, errors and exact latency percentiles, and counts the
workspace's answers still streaming (through the partial index on streaming messages).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.models import Conversation, Message, MessageStatus, UsageLog, UsageStatus


class MetricsWindow(enum.Enum):
    """How far back the live figures reach."""

    MINUTE = "minute"
    HOUR = "hour"

    @property
    def length(self) -> timedelta:
        """The window's length."""
        return timedelta(minutes=1) if self is MetricsWindow.MINUTE else timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Figures:
    """What a subscriber sees change; equal figures are not sent again."""

    spend: Decimal
    calls: int
    errors: int
    cancelled: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    generations_in_flight: int
    latency_p50_ms: int | None
    latency_p95_ms: int | None

    @property
    def total_tokens(self) -> int:
        """Input, cache read, cache write and output tokens together."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The figures of one workspace over ``window`` as computed at ``computed_at``."""

    figures: Figures
    computed_at: datetime
    window_start: datetime


def _percentile(fraction: float) -> ColumnElement[int]:
    return func.percentile_disc(fraction).within_group(UsageLog.latency_ms)


def snapshot_statement(workspace_id: uuid.UUID, window: MetricsWindow) -> Select:
    """The one statement behind a snapshot. ``now()`` is the statement's start (reads run
    in autocommit), so the window and ``computed_at`` agree."""
    since = func.now() - window.length
    in_flight = (
        select(func.count())
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.status == MessageStatus.STREAMING, Conversation.workspace_id == workspace_id)
        .scalar_subquery()
    )
    return select(
        func.coalesce(func.sum(UsageLog.cost), 0),
        func.count(),
        func.count().filter(UsageLog.status == UsageStatus.ERROR),
        func.count().filter(UsageLog.status == UsageStatus.CANCELLED),
        func.coalesce(func.sum(UsageLog.input_tokens), 0),
        func.coalesce(func.sum(UsageLog.output_tokens), 0),
        func.coalesce(func.sum(UsageLog.cache_read_tokens), 0),
        func.coalesce(func.sum(UsageLog.cache_write_tokens), 0),
        in_flight,
        _percentile(0.5),
        _percentile(0.95),
        func.now(),
    ).where(UsageLog.workspace_id == workspace_id, UsageLog.created_at > since)


async def compute_snapshot(
    engine: AsyncEngine, workspace_id: uuid.UUID, window: MetricsWindow
) -> Snapshot:
    """The workspace's figures over ``window`` now (one statement, one pooled connection
    checked out for it only)."""
    async with engine.connect() as connection:
        row = (await connection.execute(snapshot_statement(workspace_id, window))).one()
    spend, calls, errors, cancelled, inputs, outputs, reads, writes, flying, p50, p95, now = row
    figures = Figures(
        spend=Decimal(spend),
        calls=calls,
        errors=errors,
        cancelled=cancelled,
        input_tokens=int(inputs),
        output_tokens=int(outputs),
        cache_read_tokens=int(reads),
        cache_write_tokens=int(writes),
        generations_in_flight=flying,
        latency_p50_ms=None if p50 is None else int(p50),
        latency_p95_ms=None if p95 is None else int(p95),
    )
    return Snapshot(figures, now, now - window.length)
