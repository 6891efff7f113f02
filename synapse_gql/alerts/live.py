"""Alerts announced to their workspace after the transaction that wrote them commits.

Metering knows only its session; :func:`bind_alerts` (called when the app state is built)
ties the session's engine to the process's after-commit publisher and health rules, so
:func:`announce_alerts` needs nothing but the session. A session of an unbound engine
(a script, a test on a bare engine) evaluates with the default rules and announces nothing.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.alerts.pacing import HealthPacing
from synapse_gql.alerts.rules import HealthRules
from synapse_gql.models import AlertEvent
from synapse_gql.realtime import AfterCommitPublisher, publisher_for, subscribe
from synapse_gql.realtime.channels import workspace_alerts_channel
from synapse_gql.realtime.events import AlertChangedEvent

if TYPE_CHECKING:
    from synapse_gql.state import AppState


@dataclass(frozen=True)
class AlertRuntime:
    """The health rules, their pacing and the publisher of the process that owns an engine."""

    rules: HealthRules
    publisher: AfterCommitPublisher | None
    pacing: HealthPacing


UNBOUND = AlertRuntime(HealthRules(), None, HealthPacing(0))
_runtimes: weakref.WeakKeyDictionary[Engine, AlertRuntime] = weakref.WeakKeyDictionary()


def bind_alerts(state: AppState) -> None:
    """Evaluate and announce alerts of ``state``'s database with its settings and realtime."""
    rules = HealthRules.from_settings(state.settings)
    pacing = HealthPacing(rules.check_seconds)
    runtime = AlertRuntime(rules, publisher_for(state.realtime), pacing)
    _runtimes[state.db.engine.sync_engine] = runtime


def runtime_for(session: AsyncSession) -> AlertRuntime:
    """The runtime bound to the session's engine, or the unbound defaults."""
    bind = session.bind
    engine = getattr(bind, "sync_engine", bind)
    return _runtimes.get(engine, UNBOUND) if isinstance(engine, Engine) else UNBOUND


def announce_alerts(session: AsyncSession, alerts: Sequence[AlertEvent]) -> None:
    """After ``session`` commits, tell each alert's workspace that it was raised or changed."""
    publisher = runtime_for(session).publisher
    if publisher is None:
        return
    for alert in alerts:
        channel = workspace_alerts_channel(alert.workspace_id)
        publisher.publish(session, channel, AlertChangedEvent(alert_id=alert.id))


async def alert_events(state: AppState, workspace_id: uuid.UUID) -> AsyncIterator[AlertEvent]:
    """Each alert of the workspace raised or changed from now on, as committed."""
    channel = workspace_alerts_channel(workspace_id)
    async with subscribe(state.realtime, channel, AlertChangedEvent) as events:
        async for event in events:
            async with state.db.reads() as session:
                row = await session.get(AlertEvent, event.alert_id)
            if row is not None and row.workspace_id == workspace_id:
                yield row
