"""Workspace budgets: month-to-date spend, threshold alerts and the hard stop."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.metering import repository
from synapse_gql.models import AlertEvent, AlertKind, AlertStatus, Budget

LIMIT_PERCENT = 100


async def budget_allows(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    """False when the workspace's budget has a hard stop and this month's spend reached it."""
    budget = await repository.budget(session, workspace_id, lock=False)
    if budget is None or not budget.hard_stop:
        return True
    _, spend = await repository.month_to_date_spend(session, workspace_id)
    return spend < budget.monthly_limit


async def raise_spend_alerts(
    session: AsyncSession, workspace_id: uuid.UUID, usage_log_id: uuid.UUID
) -> list[AlertEvent]:
    """Raise the budget thresholds this month's spend has crossed; return the new alerts.

    The budget row is locked before the spend is summed, so concurrent charges of one
    workspace are checked one after the other and each sees the charges committed before
    it: the last one sees them all and no crossing is missed. The unique key of the alert
    events makes each threshold fire once per month.
    """
    budget = await repository.budget(session, workspace_id, lock=True)
    if budget is None:
        return []
    period_start, spend = await repository.month_to_date_spend(session, workspace_id)
    crossed = crossed_thresholds(budget, spend)
    rows = [_alert_row(budget, pct, spend, period_start, usage_log_id) for pct in crossed]
    return await repository.insert_alerts(session, rows)


def crossed_thresholds(budget: Budget, spend: Decimal) -> list[int]:
    """The budget's threshold percentages that ``spend`` has reached, ascending.

    Nothing is crossed before anything is spent, so a zero limit raises no alert on its own.
    """
    if spend <= 0:
        return []
    percents = sorted(
        {p for p in budget.thresholds if isinstance(p, int) and not isinstance(p, bool) and p > 0}
    )
    return [p for p in percents if spend >= budget.monthly_limit * p / 100]


def _alert_row(
    budget: Budget,
    percent: int,
    spend: Decimal,
    period_start: datetime,
    usage_log_id: uuid.UUID,
) -> dict[str, Any]:
    over_limit = percent >= LIMIT_PERCENT
    limit = budget.monthly_limit
    return {
        "id": uuid.uuid4(),
        "workspace_id": budget.workspace_id,
        "budget_id": budget.id,
        "kind": AlertKind.SPEND_LIMIT if over_limit else AlertKind.SPEND_THRESHOLD,
        "status": AlertStatus.OPEN,
        "threshold_percent": percent,
        "period_start": period_start,
        "message": (
            f"This month's spend of {spend.normalize():f} {budget.currency} reached {percent}%"
            f" of the {limit.normalize():f} {budget.currency} monthly budget."
        ),
        "details": {
            "spend": str(spend),
            "monthly_limit": str(limit),
            "currency": budget.currency,
            "usage_log_id": str(usage_log_id),
        },
    }
