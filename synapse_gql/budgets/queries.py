"""Reading budgets: ``Workspace.budgets`` (members and above) and ``node`` resolution."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from synapse_gql.budgets.loaders import budget_view, budgets_of
from synapse_gql.budgets.types import BudgetType
from synapse_gql.context import Info
from synapse_gql.gql.relay import register_node
from synapse_gql.models import Budget, MemberRole
from synapse_gql.workspaces.access import viewer_role, visible_rows


async def workspace_budgets(info: Info, workspace_id: uuid.UUID) -> list[BudgetType]:
    """The workspace's budgets for members and above; empty for viewers."""
    role = await viewer_role(info, workspace_id)
    if role is None or role.rank < MemberRole.MEMBER.rank:
        return []
    return [BudgetType.from_view(view) for view in await budgets_of(info, workspace_id)]


async def budget_by_id(info: Info, budget_id: uuid.UUID) -> BudgetType | None:
    """One budget as ``setBudget`` returns it (the caller's rights already checked)."""
    view = await budget_view(info, budget_id)
    return None if view is None else BudgetType.from_view(view)


async def _budgets(info: Info, ids: Sequence[uuid.UUID]) -> list[BudgetType | None]:
    rows = await visible_rows(info, Budget, ids, MemberRole.MEMBER)
    found: list[BudgetType | None] = []
    for row in rows:
        found.append(None if row is None else await budget_by_id(info, row.id))
    return found


register_node("Budget", _budgets)
