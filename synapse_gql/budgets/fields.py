"""The ``budgets`` field, attached to ``Workspace``."""

from __future__ import annotations

from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.refs import BudgetRef


def budgets_field() -> Any:
    """``budgets`` of a workspace: its budgets for members and above, empty for viewers."""

    async def budgets(root: Any, info: Info) -> list[BudgetRef]:
        from synapse_gql.budgets.queries import workspace_budgets

        return await workspace_budgets(info, root.db_id)

    return strawberry.field(
        resolver=budgets,
        description="Budgets of the workspace, its projects, members and API tokens, oldest"
        " first (members and above; empty for viewers).",
    )
