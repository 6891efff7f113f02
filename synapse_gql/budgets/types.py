"""GraphQL types of budgets: the Budget node, its scope and the setBudget/deleteBudget inputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from synapse_gql.budgets.loaders import BURN_WINDOW, BudgetView
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import BudgetScope

strawberry.enum(
    BudgetScope,
    name="BudgetScope",
    description="What a budget covers: the workspace, a project, a member or an API token.",
)
BudgetScopeType = BudgetScope
TARGET_TYPES = {
    BudgetScope.PROJECT: "Project",
    BudgetScope.MEMBER: "User",
    BudgetScope.API_TOKEN: "ApiToken",
}
FORECAST_NOTE = (
    "This period's spend projected to its end: `spent` plus the trailing burn rate (the"
    " spend of the covered calls over the last 7 days of the period, or since the period"
    " began when that is shorter, per second) times the seconds left. API-token budgets,"
    " whose calls the usage log does not name, burn at the period's average rate."
)
MONEY_PLACES = Decimal("1e-10")


def period_end(start: datetime) -> datetime:
    """The first instant of the month after ``start`` (UTC)."""
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def projected_spend(
    spent: Decimal, trailing: Decimal | None, period_start: datetime, now: datetime
) -> Decimal:
    """``spent`` projected to the end of the period (see FORECAST_NOTE); ``trailing`` is the
    spend since ``burn_since(period_start, now)``, None: burn at the period's average."""
    since = period_start if trailing is None else burn_since(period_start, now)
    window = Decimal(str((now - since).total_seconds()))
    left = Decimal(str(max((period_end(period_start) - now).total_seconds(), 0)))
    burned = spent if trailing is None else trailing
    if window <= 0:
        return spent
    return (spent + burned / window * left).quantize(MONEY_PLACES)


def burn_since(period_start: datetime, now: datetime) -> datetime:
    """Start of the trailing burn window: the last 7 days, or the period if shorter."""
    return max(period_start, now - BURN_WINDOW)


def forecast(view: BudgetView) -> Decimal:
    """See FORECAST_NOTE."""
    return projected_spend(view.spent, view.trailing, view.period_start, view.now)


@strawberry.type(
    name="Budget",
    description="A monthly spend limit over a workspace, project, member or API token. A call"
    " reserves its worst case on every budget covering it before it is made; a hard stop"
    " refuses calls whose worst case does not fit (BUDGET_EXCEEDED).",
)
class BudgetType(Node):
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    scope: BudgetScopeType
    target_id: strawberry.ID | None = strawberry.field(
        description="The global ID of the Project, User (member) or ApiToken covered; null"
        " for the workspace."
    )
    limit: Decimal = strawberry.field(description="The monthly limit, in `currency`.")
    currency: str
    spent: Decimal = strawberry.field(description="Charged this period (calendar month, UTC).")
    reserved: Decimal = strawberry.field(
        description="Worst cases reserved by calls in flight, released when they are metered."
    )
    remaining: Decimal = strawberry.field(
        description="limit - spent - reserved, never below 0: the room for new calls."
    )
    period_start: datetime
    period_end: datetime
    forecast: Decimal = strawberry.field(description=FORECAST_NOTE)
    hard_stop: bool = strawberry.field(
        description="Refuse calls that do not fit; false: alerts only."
    )
    thresholds: list[int] = strawberry.field(
        description="Alert percentages of the limit, each fired once per period."
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_view(cls, view: BudgetView) -> BudgetType:
        row = view.budget
        target = None
        if row.target_id is not None:
            target = strawberry.ID(to_global_id(TARGET_TYPES[row.scope], row.target_id))
        return cls(
            id=to_global_id("Budget", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            scope=row.scope,
            target_id=target,
            limit=row.monthly_limit,
            currency=row.currency,
            spent=view.spent,
            reserved=view.reserved,
            remaining=max(row.monthly_limit - view.spent - view.reserved, Decimal(0)),
            period_start=view.period_start,
            period_end=period_end(view.period_start),
            forecast=forecast(view),
            hard_stop=row.hard_stop,
            thresholds=list(row.thresholds),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


@strawberry.input(description="A budget to create, or to update when its (scope, target) has one.")
class SetBudgetInput:
    workspace_id: strawberry.ID
    scope: BudgetScopeType = BudgetScope.WORKSPACE
    target_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="PROJECT: a project's ID; MEMBER: a member's user ID; API_TOKEN: the ID"
        " of a member's API token; none for WORKSPACE.",
    )
    limit: Decimal = strawberry.field(description="0 or more, at most 10 decimal places.")
    hard_stop: bool = True
    thresholds: list[int] | None = strawberry.field(
        default_factory=lambda: [50, 80, 100],
        description="Alert percentages, 1 to 1000; deduplicated and sorted.",
    )


@strawberry.input
class DeleteBudgetInput:
    budget_id: strawberry.ID
