"""Reserving a call's worst case before it is made, and settling it when it is metered.

A reservation adds the worst-case cost to ``reserved`` of every budget covering the call,
in one savepoint and in id order (so concurrent callers lock rows in the same order and
cannot deadlock); on a hard-stop budget only when ``spent + reserved + amount <= limit``.
No room: BUDGET_EXCEEDED and nothing is reserved. Metering adds the exact cost to
``spent`` (:func:`charge_call`); settling takes the reservation off, in the same
transaction, exactly once (the reservation row is deleted by whoever settles it).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.budgets import repository
from synapse_gql.budgets.repository import Coverage
from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.metering import pricing
from synapse_gql.models import Budget, BudgetScope, Message

SCOPE_NAMES = {
    BudgetScope.WORKSPACE: "workspace",
    BudgetScope.PROJECT: "project",
    BudgetScope.MEMBER: "member",
    BudgetScope.API_TOKEN: "API token",
}


async def worst_case(
    session: AsyncSession, llm_id: uuid.UUID, input_tokens: int, output_tokens: int
) -> Decimal:
    """What a call can cost at most: its tokens at the model's price in force now."""
    price = await pricing.current_price(session, llm_id)
    return pricing.cost(input_tokens, output_tokens, price)


def _refusal(budget: Budget, amount: Decimal, field: Sequence[str]) -> DomainError:
    name = SCOPE_NAMES[budget.scope]
    return DomainError(
        f"The {name} budget of {budget.monthly_limit.normalize():f} {budget.currency} this"
        f" month has no room for this call (up to {amount.normalize():f} {budget.currency});"
        " it stops further calls.",
        field=list(field),
        code=ErrorCode.BUDGET_EXCEEDED,
    )


async def reserve(
    session: AsyncSession,
    coverage: Coverage,
    worst: Callable[[], Awaitable[Decimal]],
    field: Sequence[str],
) -> uuid.UUID | None:
    """Reserve the ``worst`` case on every budget covering the call, or on none
    (BUDGET_EXCEEDED); the reservation's id, None when no budget covers the call (then the
    worst case is not even computed)."""
    budgets = await repository.covering(session, coverage)
    if not budgets:
        return None
    amount = await worst()
    start = await repository.period_start(session)
    await repository.ensure_usage(session, budgets, start)
    savepoint = await session.begin_nested()
    for budget in budgets:
        if not await repository.try_reserve(session, budget, start, amount):
            await savepoint.rollback()
            raise _refusal(budget, amount, field)
    await savepoint.commit()
    return await repository.add_reservation(session, [b.id for b in budgets], start, amount)


async def settle(session: AsyncSession, reservation_id: uuid.UUID | None) -> bool:
    """Release a reservation (its call's exact cost is charged by metering); False when
    there was none or someone else settled it first."""
    if reservation_id is None:
        return False
    taken = await repository.take_reservation(session, reservation_id)
    if taken is None:
        return False
    await repository.release(session, taken.budget_ids, taken.period_start, taken.amount)
    return True


def reservation_of(info: dict[str, Any] | None) -> uuid.UUID | None:
    """The reservation id an answer's generation info keeps, if any."""
    value = (info or {}).get(RESERVATION_KEY)
    return uuid.UUID(str(value)) if value else None


RESERVATION_KEY = "budget_reservation_id"


async def settle_answer(session: AsyncSession, message_id: uuid.UUID) -> bool:
    """Settle the reservation an answer's generation info names (see :func:`settle`)."""
    info = await session.scalar(select(Message.generation).where(Message.id == message_id))
    return await settle(session, reservation_of(info))
