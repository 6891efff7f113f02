"""Setting and deleting budgets (workspace admins and owners), with typed input errors.

The service only flushes; the mutation owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.budgets import repository
from synapse_gql.errors import InvalidInput, NotFound
from synapse_gql.models import (
    ApiToken,
    Budget,
    BudgetScope,
    MemberRole,
    Project,
    WorkspaceMember,
)
from synapse_gql.workspaces.access import require_role

LIMIT_PATH = ["input", "limit"]
TARGET_PATH = ["input", "targetId"]
THRESHOLDS_PATH = ["input", "thresholds"]
MONEY_SCALE = 10
MAX_LIMIT = Decimal("1e10")
MAX_THRESHOLD = 1000


@dataclass(frozen=True, kw_only=True)
class BudgetSpec:
    """What ``setBudget`` asked for, decoded but not yet checked."""

    workspace_id: uuid.UUID
    scope: BudgetScope
    target_id: uuid.UUID | None
    limit: Decimal
    hard_stop: bool
    thresholds: Sequence[int]


def check_limit(limit: Decimal) -> Decimal:
    """A finite, non-negative amount with at most 10 places, below 10^10."""
    if not limit.is_finite() or limit < 0:
        raise InvalidInput("The limit is an amount of 0 or more.", field=LIMIT_PATH)
    if limit >= MAX_LIMIT:
        raise InvalidInput("The limit must be below 10000000000.", field=LIMIT_PATH)
    exponent = limit.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MONEY_SCALE:
        raise InvalidInput(
            f"The limit has at most {MONEY_SCALE} digits after the point.", field=LIMIT_PATH
        )
    return limit


def check_thresholds(thresholds: Sequence[int]) -> list[int]:
    """Percentages from 1 to 1000, deduplicated and sorted."""
    for index, percent in enumerate(thresholds):
        if not 1 <= percent <= MAX_THRESHOLD:
            raise InvalidInput(
                f"A threshold is a percentage from 1 to {MAX_THRESHOLD}.",
                field=[*THRESHOLDS_PATH, str(index)],
            )
    return sorted(set(thresholds))


async def _check_target(session: AsyncSession, spec: BudgetSpec) -> uuid.UUID | None:
    """The target, checked to belong to the workspace; none for a workspace budget."""
    if spec.scope is BudgetScope.WORKSPACE:
        if spec.target_id is not None:
            raise InvalidInput("A workspace budget has no target.", field=TARGET_PATH)
        return None
    if spec.target_id is None:
        raise InvalidInput(f"A {spec.scope.value} budget needs a target.", field=TARGET_PATH)
    if not await _target_exists(session, spec.workspace_id, spec.scope, spec.target_id):
        raise NotFound(
            f"No such {spec.scope.value.replace('_', ' ')} in this workspace.", field=TARGET_PATH
        )
    return spec.target_id


async def _target_exists(
    session: AsyncSession, workspace_id: uuid.UUID, scope: BudgetScope, target_id: uuid.UUID
) -> bool:
    member = select(WorkspaceMember.id).where(WorkspaceMember.workspace_id == workspace_id)
    if scope is BudgetScope.PROJECT:
        stmt = select(Project.id).where(
            Project.id == target_id, Project.workspace_id == workspace_id
        )
    elif scope is BudgetScope.MEMBER:
        stmt = member.where(WorkspaceMember.user_id == target_id)
    else:
        owner = member.where(WorkspaceMember.user_id == ApiToken.user_id).exists()
        stmt = select(ApiToken.id).where(ApiToken.id == target_id, owner)
    return await session.scalar(stmt) is not None


async def set_budget(session: AsyncSession, actor_id: uuid.UUID, spec: BudgetSpec) -> Budget:
    """Create the (workspace, scope, target) budget, or update the one that exists; a new
    budget starts the period at what its scope already spent in it (see
    ``repository.ensure_usage``)."""
    await require_role(session, spec.workspace_id, actor_id, MemberRole.ADMIN)
    await repository.lock_for_setting(session, spec.workspace_id)
    values = {
        "workspace_id": spec.workspace_id,
        "scope": spec.scope,
        "target_id": await _check_target(session, spec),
        "monthly_limit": check_limit(spec.limit),
        "hard_stop": spec.hard_stop,
        "thresholds": check_thresholds(spec.thresholds),
    }
    stmt = (
        pg_insert(Budget)
        .values(id=uuid.uuid4(), **values)
        .on_conflict_do_update(
            constraint="uq_budgets_workspace_id_scope_target_id",
            set_={
                **{k: values[k] for k in ("monthly_limit", "hard_stop", "thresholds")},
                "updated_at": func.now(),
            },
        )
        .returning(Budget.id)
    )
    budget_id = (await session.execute(stmt)).scalar_one()
    budget = await session.get_one(Budget, budget_id, populate_existing=True)
    await repository.ensure_usage(session, [budget], await repository.period_start(session))
    return budget


async def delete_budget(session: AsyncSession, actor_id: uuid.UUID, budget_id: uuid.UUID) -> None:
    """Delete a budget (its usage rows go with it; open reservations release nothing)."""
    field = ["input", "budgetId"]
    budget = await session.get(Budget, budget_id)
    if budget is None:
        raise NotFound("No such budget.", field=field)
    await require_role(
        session, budget.workspace_id, actor_id, MemberRole.ADMIN, field=field, what="budget"
    )
    await session.delete(budget)
    await session.flush()
