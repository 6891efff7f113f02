"""Budget mutations: setBudget and deleteBudget (workspace admins and owners)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from synapse_gql.budgets import service
from synapse_gql.budgets.queries import budget_by_id
from synapse_gql.budgets.types import TARGET_TYPES, BudgetType, DeleteBudgetInput, SetBudgetInput
from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import BudgetScope
from synapse_gql.workspaces.mutations import Deleted, DeleteResult

BudgetResult = Annotated[BudgetType | UserError, strawberry.union("BudgetResult")]


def _spec(input: SetBudgetInput) -> service.BudgetSpec:
    scope = BudgetScope(input.scope.value if hasattr(input.scope, "value") else input.scope)
    target = None
    if input.target_id is not None:
        expected = TARGET_TYPES.get(scope, "Workspace")
        target = decode_id(input.target_id, expected, field=["input", "targetId"])
    return service.BudgetSpec(
        workspace_id=decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"]),
        scope=scope,
        target_id=target,
        limit=input.limit,
        hard_stop=input.hard_stop,
        thresholds=input.thresholds or [],
    )


@strawberry.type
class BudgetMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Set the monthly budget of the workspace, a project, a member or an API"
        " token (admins and owners); setting it again updates it.",
    )
    async def set_budget(self, info: Info, input: SetBudgetInput) -> BudgetResult:
        viewer = info.context.require_viewer()
        spec = _spec(input)
        async with info.context.state.db.transaction() as session:
            row = await service.set_budget(session, viewer.id, spec)
        found = await budget_by_id(info, row.id)
        assert found is not None  # committed just above
        return found

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Delete a budget (admins and owners)."
    )
    async def delete_budget(self, info: Info, input: DeleteBudgetInput) -> DeleteResult:
        viewer = info.context.require_viewer()
        budget_id = decode_id(input.budget_id, "Budget", field=["input", "budgetId"])
        async with info.context.state.db.transaction() as session:
            await service.delete_budget(session, viewer.id, budget_id)
        return Deleted(id=input.budget_id)
