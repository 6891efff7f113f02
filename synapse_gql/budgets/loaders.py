"""The budgets of workspaces with this period's spend, reservations and trailing burn,
batched per request (one statement for any number of workspaces)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, Select, and_, case, false, func, select, true

from synapse_gql.budgets.repository import month_start
from synapse_gql.context import Info
from synapse_gql.models import Budget, BudgetScope, BudgetUsage, UsageLog

BURN_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class BudgetView:
    """A budget as read: the row, the period, what was spent and reserved in it, and the
    spend of its scope in the trailing burn window (None: not known)."""

    budget: Budget
    period_start: datetime
    now: datetime
    spent: Decimal
    reserved: Decimal
    trailing: Decimal | None


def _covers() -> ColumnElement[bool]:
    """SQL: the usage log belongs to the budget's scope."""
    return case(
        (Budget.scope == BudgetScope.WORKSPACE.value, true()),
        (Budget.scope == BudgetScope.PROJECT.value, UsageLog.project_id == Budget.target_id),
        (Budget.scope == BudgetScope.MEMBER.value, UsageLog.user_id == Budget.target_id),
        (Budget.scope == BudgetScope.API_TOKEN.value, UsageLog.api_token_id == Budget.target_id),
        else_=false(),
    )


def _statement(
    workspace_ids: Sequence[uuid.UUID],
) -> Select[Budget, BudgetUsage, datetime, datetime, Decimal]:
    start = month_start()
    since = func.greatest(start, func.now() - BURN_WINDOW)
    trailing = (
        select(func.coalesce(func.sum(UsageLog.cost), 0))
        .where(
            UsageLog.workspace_id == Budget.workspace_id,
            UsageLog.created_at >= since,
            _covers(),
        )
        .correlate(Budget)
        .scalar_subquery()
    )
    return (
        select(Budget, BudgetUsage, start.label("start"), func.now().label("now"), trailing)
        .outerjoin(
            BudgetUsage,
            and_(BudgetUsage.budget_id == Budget.id, BudgetUsage.period_start == start),
        )
        .where(Budget.workspace_id.in_(workspace_ids))
        .order_by(Budget.created_at, Budget.id)
    )


async def budgets_of(info: Info, workspace_id: uuid.UUID) -> list[BudgetView]:
    """The workspace's budgets, oldest first (batched with other workspaces')."""

    async def batch(ids: Sequence[uuid.UUID]) -> list[list[BudgetView]]:
        grouped: dict[uuid.UUID, list[BudgetView]] = defaultdict(list)
        async with info.context.sessions() as session:
            for budget, usage, start, now, trailing in await session.execute(_statement(ids)):
                grouped[budget.workspace_id].append(
                    BudgetView(
                        budget,
                        start,
                        now,
                        Decimal(0) if usage is None else usage.spent,
                        Decimal(0) if usage is None else usage.reserved,
                        Decimal(trailing),
                    )
                )
        return [grouped.get(i, []) for i in ids]

    return await info.context.loaders.get(("budgets", "of_workspace"), batch).load(workspace_id)


async def budget_view(info: Info, budget_id: uuid.UUID) -> BudgetView | None:
    """One budget as read, for a caller already allowed to see it (batched with the
    other budgets of its workspace)."""
    budget = await info.context.loaders.by_id(Budget).load(budget_id)
    if budget is None:
        return None
    views = await budgets_of(info, budget.workspace_id)
    return next((view for view in views if view.budget.id == budget_id), None)
