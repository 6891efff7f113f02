"""Budgets as metering sees them: each positive charge is added to the spend of every
budget covering the call, and the thresholds it crossed raise alerts (once per budget,
threshold and month)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.budgets import repository
from synapse_gql.budgets.repository import Coverage
from synapse_gql.models import (
    AlertEvent,
    AlertKind,
    AlertStatus,
    Budget,
    BudgetScope,
    BudgetUsage,
    UsageLog,
)

LIMIT_PERCENT = 100


async def budget_allows(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    """False when the workspace-wide budget has a hard stop and this month's spend plus
    open reservations reached it."""
    start = await repository.period_start(session)
    stmt = (
        select(Budget, BudgetUsage)
        .outerjoin(
            BudgetUsage,
            (BudgetUsage.budget_id == Budget.id) & (BudgetUsage.period_start == start),
        )
        .where(Budget.workspace_id == workspace_id, Budget.scope == BudgetScope.WORKSPACE)
    )
    row = (await session.execute(stmt)).one_or_none()
    if row is None or not row[0].hard_stop:
        return True
    used = Decimal(0) if row[1] is None else row[1].spent + row[1].reserved
    return used < row[0].monthly_limit


async def raise_spend_alerts(
    session: AsyncSession, workspace_id: uuid.UUID, usage_log_id: uuid.UUID
) -> list[AlertEvent]:
    """Charge a metered call to every budget covering it (workspace, its project, its
    member, the API token of the request); return the threshold alerts the charge raised.

    Each budget's period row is updated (and so locked) in id order before its spend is
    read back, so concurrent charges see each other and no crossing is missed; the unique
    key of the alert events makes each threshold fire once per budget and month.
    """
    usage = await session.get_one(UsageLog, usage_log_id)
    coverage = Coverage(workspace_id, usage.project_id, usage.user_id, usage.api_token_id)
    # Before the budgets are read: a budget being set waits for this transaction, or this
    # transaction sees it (see ``repository.lock_for_metering``).
    await repository.lock_for_metering(session, workspace_id)
    budgets = await repository.covering(session, coverage, lock=True)
    if not budgets:
        return []
    start = await repository.period_start(session)
    # A period row created just now summed this usage row already: not charged twice.
    created = await repository.ensure_usage(session, budgets, start)
    rows: list[dict[str, Any]] = []
    for budget in budgets:
        if budget.id in created:
            spend = await repository.spent(session, budget.id, start)
        else:
            spend = await repository.charge(session, budget.id, start, usage.cost)
        for percent in crossed_thresholds(budget, spend):
            rows.append(_alert_row(budget, percent, spend, start, usage_log_id))
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
    scope = "" if budget.scope is BudgetScope.WORKSPACE else f" {budget.scope.value}"
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
            f" of the {limit.normalize():f} {budget.currency} monthly{scope} budget."
        ),
        "details": {
            "spend": str(spend),
            "monthly_limit": str(limit),
            "currency": budget.currency,
            "scope": budget.scope.value,
            "usage_log_id": str(usage_log_id),
        },
    }
