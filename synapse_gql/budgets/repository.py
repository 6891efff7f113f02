"""SQL of budgets: the covering budgets of a call, per-period usage rows updated
conditionally (reservations) or unconditionally (charges), open reservations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import (
    AlertEvent,
    Budget,
    BudgetReservation,
    BudgetScope,
    BudgetUsage,
    UsageLog,
    Workspace,
)


@dataclass(frozen=True)
class Coverage:
    """Who a call is made for: each non-None part may have a budget covering it."""

    workspace_id: uuid.UUID
    project_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    api_token_id: uuid.UUID | None = None


def month_start() -> Any:
    """SQL for the first instant of the current calendar month in UTC (a budget's period)."""
    utc_now = func.timezone("UTC", func.now())
    return func.timezone("UTC", func.date_trunc("month", utc_now))


async def period_start(session: AsyncSession) -> datetime:
    """The first instant of the current calendar month, UTC, by the database's clock."""
    return (await session.execute(select(month_start()))).scalar_one()


# The scoped budgets a call may have, with the name its target is bound under.
_SCOPED = (
    (BudgetScope.PROJECT, "project_id"),
    (BudgetScope.MEMBER, "user_id"),
    (BudgetScope.API_TOKEN, "api_token_id"),
)


@cache
def _covering_statement(lock: bool) -> Any:
    """The budgets of ``:workspace_id`` covering a call (an absent target, bound as NULL,
    matches nothing), built once per ``lock``."""
    scoped = [
        and_(
            Budget.scope == scope, Budget.target_id == bindparam(name, type_=Budget.target_id.type)
        )
        for scope, name in _SCOPED
    ]
    stmt = (
        select(Budget)
        .where(
            Budget.workspace_id == bindparam("workspace_id"),
            or_(Budget.scope == BudgetScope.WORKSPACE, *scoped),
        )
        .order_by(Budget.id)
    )
    if lock:
        stmt = stmt.with_for_update(key_share=True, of=Budget).execution_options(
            populate_existing=True
        )
    return stmt


async def covering(
    session: AsyncSession, coverage: Coverage, *, lock: bool = False
) -> list[Budget]:
    """Every budget covering a call, ordered by id (the order rows are locked in); with
    ``lock``, each budget row locked until the transaction ends (see :func:`ensure_usage`)."""
    values = {
        "workspace_id": coverage.workspace_id,
        "project_id": coverage.project_id,
        "user_id": coverage.user_id,
        "api_token_id": coverage.api_token_id,
    }
    return list((await session.scalars(_covering_statement(lock), values)).all())


async def lock_for_metering(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Share-lock the workspace row before a metering transaction reads its budgets.

    A budget being set holds the same row in exclusive mode (:func:`lock_for_setting`), so
    a call metered meanwhile either commits before the new budget sums the workspace's
    usage (and is in the sum), or reads the budgets after it committed (and charges it):
    never neither, never both. Metering transactions share the lock and do not wait on
    each other; FOR SHARE leaves foreign-key checks (FOR KEY SHARE) alone.
    """
    stmt = select(Workspace.id).where(Workspace.id == workspace_id).with_for_update(read=True)
    await session.execute(stmt)


async def lock_for_setting(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Lock the workspace row against metering while a budget is set (taken first, before
    any budget row, so it never waits while holding one a metering call needs)."""
    stmt = select(Workspace.id).where(Workspace.id == workspace_id).with_for_update(key_share=True)
    await session.execute(stmt)


def _spent_so_far(budget: Budget, start: datetime) -> Any:
    """SQL: what the budget's scope spent since ``start`` (committed usage, and this
    transaction's own rows)."""
    target = {
        BudgetScope.PROJECT: UsageLog.project_id,
        BudgetScope.MEMBER: UsageLog.user_id,
        BudgetScope.API_TOKEN: UsageLog.api_token_id,
    }
    stmt = select(func.coalesce(func.sum(UsageLog.cost), 0)).where(
        UsageLog.workspace_id == budget.workspace_id, UsageLog.created_at >= start
    )
    if budget.scope is not BudgetScope.WORKSPACE:
        stmt = stmt.where(target[budget.scope] == budget.target_id)
    return stmt.scalar_subquery()


async def ensure_usage(
    session: AsyncSession, budgets: Sequence[Budget], start: datetime
) -> set[uuid.UUID]:
    """Create the period's usage rows that do not exist yet, their spend what the scope
    already spent in the period; the ids of the budgets whose row was created.

    Exact under concurrency because every creator and every charger holds the budget row
    (``FOR NO KEY UPDATE``, taken here, in id order, and by :func:`covering` with ``lock``
    in the charge path) from before it looks at the period row until it commits. So the
    sum runs after every earlier charger of the budget committed (their rows are in it),
    and a call metered by a transaction still open is charged by it after this commit (the
    row then exists). The creating transaction's own usage rows are in the sum: a charge
    path that created the row must not charge the same row again.
    """
    ids = sorted(b.id for b in budgets)
    if not ids:
        return set()
    lock = select(Budget.id).where(Budget.id.in_(ids)).order_by(Budget.id)
    await session.execute(lock.with_for_update(key_share=True))
    created: set[uuid.UUID] = set()
    for budget in sorted(budgets, key=lambda b: b.id):
        stmt = (
            pg_insert(BudgetUsage)
            .values(budget_id=budget.id, period_start=start, spent=_spent_so_far(budget, start))
            .on_conflict_do_nothing()
            .returning(BudgetUsage.budget_id)
        )
        if (await session.execute(stmt)).scalar_one_or_none() is not None:
            created.add(budget.id)
    return created


async def spent(session: AsyncSession, budget_id: uuid.UUID, start: datetime) -> Decimal:
    """The budget's spend in the period."""
    stmt = select(BudgetUsage.spent).where(
        BudgetUsage.budget_id == budget_id, BudgetUsage.period_start == start
    )
    return (await session.execute(stmt)).scalar_one()


async def try_reserve(
    session: AsyncSession, budget: Budget, start: datetime, amount: Decimal
) -> bool:
    """Add ``amount`` to the budget's reservations; for a hard stop only when spend plus
    reservations stays within the limit. One conditional statement: concurrent callers
    wait for the row lock and re-check the condition against the committed values."""
    stmt = update(BudgetUsage).where(
        BudgetUsage.budget_id == budget.id, BudgetUsage.period_start == start
    )
    if budget.hard_stop:
        committed = BudgetUsage.spent + BudgetUsage.reserved
        # A free call still needs the limit not yet reached (a zero budget stops all calls).
        room = committed + amount <= budget.monthly_limit if amount > 0 else None
        stmt = stmt.where(room if room is not None else committed < budget.monthly_limit)
    stmt = stmt.values(reserved=BudgetUsage.reserved + amount).returning(BudgetUsage.budget_id)
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def release(
    session: AsyncSession, budget_ids: Sequence[uuid.UUID], start: datetime, amount: Decimal
) -> None:
    """Take ``amount`` off the reservations of each budget, one row at a time in id order."""
    for budget_id in sorted(budget_ids):
        stmt = (
            update(BudgetUsage)
            .where(BudgetUsage.budget_id == budget_id, BudgetUsage.period_start == start)
            .values(reserved=func.greatest(BudgetUsage.reserved - amount, 0))
        )
        await session.execute(stmt)


async def charge(
    session: AsyncSession, budget_id: uuid.UUID, start: datetime, amount: Decimal
) -> Decimal:
    """Add ``amount`` to the budget's spend in the period; the spend after it."""
    stmt = (
        update(BudgetUsage)
        .where(BudgetUsage.budget_id == budget_id, BudgetUsage.period_start == start)
        .values(spent=BudgetUsage.spent + amount)
        .returning(BudgetUsage.spent)
    )
    return (await session.execute(stmt)).scalar_one()


async def add_reservation(
    session: AsyncSession, budget_ids: Sequence[uuid.UUID], start: datetime, amount: Decimal
) -> uuid.UUID:
    """Record an open reservation; its id."""
    row = BudgetReservation(budget_ids=list(budget_ids), period_start=start, amount=amount)
    session.add(row)
    await session.flush()
    return row.id


async def take_reservation(
    session: AsyncSession, reservation_id: uuid.UUID
) -> BudgetReservation | None:
    """Delete an open reservation and return it; None when someone already settled it."""
    stmt = (
        delete(BudgetReservation)
        .where(BudgetReservation.id == reservation_id)
        .returning(BudgetReservation)
        .execution_options(synchronize_session=False)
    )
    return (await session.scalars(stmt)).one_or_none()


async def usage_of(
    session: AsyncSession, budget_ids: Sequence[uuid.UUID], start: datetime
) -> dict[uuid.UUID, BudgetUsage]:
    """The period's usage rows of the budgets, by budget id."""
    stmt = select(BudgetUsage).where(
        BudgetUsage.budget_id.in_(budget_ids), BudgetUsage.period_start == start
    )
    return {row.budget_id: row for row in (await session.scalars(stmt)).all()}


async def insert_alerts(session: AsyncSession, rows: list[dict[str, Any]]) -> list[AlertEvent]:
    """Insert alerts, skipping those whose (budget, kind, threshold, period) exists."""
    if not rows:
        return []
    stmt = (
        pg_insert(AlertEvent)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=["budget_id", "kind", "threshold_percent", "period_start"]
        )
        .returning(AlertEvent)
    )
    return list((await session.scalars(stmt)).all())
