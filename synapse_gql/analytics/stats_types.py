"""GraphQL types of workspace statistics (``workspaceStatistics``)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from synapse_gql.gql.errors import UserError

if TYPE_CHECKING:
    from synapse_gql.budgets.types import BudgetType

BudgetRef = Annotated["BudgetType", strawberry.lazy("synapse_gql.budgets.types")]


@strawberry.type(
    description="A workspace at a glance: its size, who was active, and this period's spend"
    " against the workspace budget with the month-end forecast."
)
class WorkspaceStatistics:
    members: int = strawberry.field(description="Members, viewers to owner.")
    projects: int = strawberry.field(description="Projects, archived ones included.")
    conversations: int = strawberry.field(description="Conversations, archived ones included.")
    messages: int = strawberry.field(description="Messages of every role in its conversations.")
    active_users_7d: int = strawberry.field(
        description="Users who wrote a message or made a metered call in the last 7 days."
    )
    active_users_30d: int = strawberry.field(description="The same over the last 30 days.")
    period_start: datetime = strawberry.field(description="This calendar month's start (UTC).")
    period_end: datetime = strawberry.field(description="Next month's start (exclusive).")
    spent: Decimal = strawberry.field(description="USD charged in the workspace this period.")
    forecast: Decimal = strawberry.field(
        description="`spent` projected to the period's end at the trailing burn rate, as"
        " `Budget.forecast` projects it."
    )
    budget: BudgetRef | None = strawberry.field(
        description="The workspace-wide budget (limit, reserved, remaining); null without one."
    )


WorkspaceStatisticsResult = Annotated[
    WorkspaceStatistics | UserError, strawberry.union("WorkspaceStatisticsResult")
]
