"""Acknowledging and resolving alerts (workspace admins and owners), with typed errors.

The alert row is locked first, so two people acting on one alert at once are served one
after the other and the second sees what the first did. The service only flushes; the
mutation owns the transaction and the alert is announced after it commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.alerts import repository
from synapse_gql.alerts.live import announce_alerts
from synapse_gql.errors import DomainError, ErrorCode, NotFound
from synapse_gql.models import AlertEvent, AlertStatus, MemberRole
from synapse_gql.workspaces.access import require_role

ALERT_PATH = ["input", "alertId"]
ACT_ROLE = MemberRole.ADMIN


async def acknowledge(session: AsyncSession, user_id: uuid.UUID, alert_id: uuid.UUID) -> AlertEvent:
    """Mark an open alert as seen by ``user_id``; it stays active until resolved."""
    values: dict[str, object] = {"acknowledged_at": func.now(), "acknowledged_by": user_id}
    return await _move(
        session, user_id, alert_id, [AlertStatus.OPEN], AlertStatus.ACKNOWLEDGED, values
    )


async def resolve(session: AsyncSession, user_id: uuid.UUID, alert_id: uuid.UUID) -> AlertEvent:
    """Close an open or acknowledged alert. A provider episode resolved by hand is raised
    anew by the next call that still breaches its rule."""
    values: dict[str, object] = {"resolved_at": func.now()}
    return await _move(session, user_id, alert_id, repository.ACTIVE, AlertStatus.RESOLVED, values)


async def _move(
    session: AsyncSession,
    user_id: uuid.UUID,
    alert_id: uuid.UUID,
    allowed: Sequence[AlertStatus],
    to: AlertStatus,
    values: dict[str, object],
) -> AlertEvent:
    alert = await repository.lock(session, alert_id)
    if alert is None:
        raise NotFound("No such alert.", field=ALERT_PATH)
    await require_role(
        session, alert.workspace_id, user_id, ACT_ROLE, field=ALERT_PATH, what="alert"
    )
    if alert.status not in allowed:
        raise DomainError(
            f"The alert is {alert.status.value}; it must be"
            f" {' or '.join(s.value for s in allowed)} to become {to.value}.",
            field=ALERT_PATH,
            code=ErrorCode.INVALID_STATE,
        )
    moved = await repository.transition(session, alert.id, allowed, to, **values)
    assert moved is not None  # the row is locked and its status was just checked
    announce_alerts(session, [moved])
    return moved
