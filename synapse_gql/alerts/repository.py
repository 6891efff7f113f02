"""All SQL of alerts: the window aggregate over usage logs, open episodes, conditional
status changes. Only flushes; the caller owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import cache
from typing import Any

from sqlalchemy import Interval, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.alerts.rules import WindowStats
from synapse_gql.models import AlertEvent, AlertKind, AlertStatus, UsageLog, UsageStatus

HEALTH_KINDS = (AlertKind.PROVIDER_ERROR_RATE, AlertKind.PROVIDER_LATENCY)
ACTIVE = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)
# The predicate of the partial unique index uq_alert_events_open_episode.
EPISODE_WHERE = text("provider IS NOT NULL AND status IN ('open', 'acknowledged')")


@cache
def _window_statement() -> Any:
    """The window aggregate and the open episodes' ids, built once (it is run for every
    metered call), with ``:workspace_id``, ``:provider`` and ``:window`` bound."""
    measure = func.coalesce(UsageLog.time_to_first_token_ms, UsageLog.latency_ms)
    ok = UsageLog.status == UsageStatus.SUCCESS
    workspace_id = bindparam("workspace_id", type_=UsageLog.workspace_id.type)
    provider = bindparam("provider", type_=UsageLog.provider.type)
    return select(
        func.count(),
        func.count().filter(UsageLog.status == UsageStatus.ERROR),
        func.count(measure).filter(ok),
        func.percentile_cont(0.95).within_group(measure).filter(ok),
        *(_episode_id(workspace_id, provider, kind) for kind in HEALTH_KINDS),
    ).where(
        UsageLog.workspace_id == workspace_id,
        UsageLog.created_at >= func.now() - bindparam("window", type_=Interval()),
        UsageLog.provider == provider,
        UsageLog.status != UsageStatus.CANCELLED,
    )


async def window_stats(
    session: AsyncSession, workspace_id: uuid.UUID, provider: str, window_seconds: int
) -> tuple[WindowStats, dict[AlertKind, uuid.UUID]]:
    """One statement: the aggregate over the workspace's calls to ``provider`` in the
    window (a range of the (workspace_id, created_at) index of usage_logs), and the ids of
    its open or acknowledged health episodes by kind (the partial unique index)."""
    values = {
        "workspace_id": workspace_id,
        "provider": provider,
        "window": timedelta(seconds=window_seconds),
    }
    calls, errors, timed, p95, *episode_ids = (
        await session.execute(_window_statement(), values)
    ).one()
    stats = WindowStats(calls, errors, timed, None if p95 is None else float(p95))
    episodes = {k: i for k, i in zip(HEALTH_KINDS, episode_ids, strict=True) if i is not None}
    return stats, episodes


def _episode_id(workspace_id: Any, provider: Any, kind: AlertKind) -> Any:
    return (
        select(AlertEvent.id)
        .where(
            AlertEvent.workspace_id == workspace_id,
            AlertEvent.kind == kind,
            AlertEvent.provider == provider,
            AlertEvent.status.in_(ACTIVE),
        )
        .scalar_subquery()
    )


def merged_details(extra: dict[str, Any]) -> Any:
    """``details`` with ``extra``'s keys added (jsonb ``||``), for an UPDATE."""
    return AlertEvent.details.op("||")(bindparam("extra", extra, type_=JSONB))


async def open_episode(session: AsyncSession, row: dict[str, Any]) -> AlertEvent | None:
    """Insert a health episode; None when one is already open for its kind and provider
    (a concurrent call raised it first: the partial unique index decides)."""
    stmt = (
        pg_insert(AlertEvent)
        .values(row)
        .on_conflict_do_nothing(
            index_elements=["workspace_id", "kind", "provider"], index_where=EPISODE_WHERE
        )
        .returning(AlertEvent)
    )
    return (await session.scalars(stmt)).one_or_none()


async def transition(
    session: AsyncSession,
    alert_id: uuid.UUID,
    from_statuses: Sequence[AlertStatus],
    to: AlertStatus,
    **values: Any,
) -> AlertEvent | None:
    """Move the alert to ``to`` when it is in one of ``from_statuses``; None otherwise."""
    stmt = (
        update(AlertEvent)
        .where(AlertEvent.id == alert_id, AlertEvent.status.in_(from_statuses))
        .values(status=to, **values)
        .returning(AlertEvent)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()


async def lock(session: AsyncSession, alert_id: uuid.UUID) -> AlertEvent | None:
    """The alert, locked until the transaction ends (status changes run one at a time)."""
    stmt = (
        select(AlertEvent)
        .where(AlertEvent.id == alert_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()
