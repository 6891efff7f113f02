"""``workspaceStatistics``: a workspace's size, its active users and this period's spend
against the workspace budget, in two statements (the figures, then the budgets).

Usage windows read the hourly rollups for whole hours and ``usage_logs`` only for the
part of an hour a window starts in, so the figures are exact and cheap at any volume.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import strawberry
from sqlalchemy import text

from synapse_gql.analytics.queries import require_usage_reader
from synapse_gql.analytics.ranges import Granularity, next_start, truncate
from synapse_gql.analytics.stats_types import WorkspaceStatistics, WorkspaceStatisticsResult
from synapse_gql.budgets.loaders import budgets_of
from synapse_gql.budgets.types import BudgetType, burn_since, projected_spend
from synapse_gql.context import Info
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import BudgetScope

ACTIVE_SHORT = timedelta(days=7)
ACTIVE_LONG = timedelta(days=30)

# Activity rows (user, when): rollup hours from the first whole hour of the long window,
# raw usage rows for the partial hours where the windows start, and authored messages.
_ACTIVITY = """
SELECT user_id, hour AS at FROM usage_rollups
 WHERE workspace_id = :w AND hour >= :long_whole AND user_id IS NOT NULL
UNION ALL
SELECT user_id, created_at FROM usage_logs
 WHERE workspace_id = :w AND user_id IS NOT NULL
   AND ((created_at >= :long_since AND created_at < :long_whole)
     OR (created_at >= :short_since AND created_at < :short_whole))
UNION ALL
SELECT m.author_id, m.created_at FROM messages m
  JOIN conversations c ON c.id = m.conversation_id
 WHERE c.workspace_id = :w AND m.author_id IS NOT NULL AND m.created_at >= :long_since
"""

STATISTICS_SQL = text(
    f"""
WITH last_seen AS (
  SELECT user_id, max(at) AS at FROM ({_ACTIVITY}) AS activity GROUP BY user_id
)
SELECT
  (SELECT count(*) FROM workspace_members WHERE workspace_id = :w) AS members,
  (SELECT count(*) FROM projects WHERE workspace_id = :w) AS projects,
  (SELECT count(*) FROM conversations WHERE workspace_id = :w) AS conversations,
  (SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE c.workspace_id = :w) AS messages,
  (SELECT count(*) FROM last_seen WHERE at >= :short_since) AS active_short,
  (SELECT count(*) FROM last_seen) AS active_long,
  (SELECT coalesce(sum(cost), 0) FROM usage_rollups
    WHERE workspace_id = :w AND hour >= :period_start) AS spent,
  (SELECT coalesce(sum(cost), 0) FROM usage_rollups
    WHERE workspace_id = :w AND hour >= :burn_whole)
  + (SELECT coalesce(sum(cost), 0) FROM usage_logs
    WHERE workspace_id = :w AND created_at >= :burn_since AND created_at < :burn_whole)
    AS trailing
"""
)


def _next_whole_hour(moment: datetime) -> datetime:
    """The first hour boundary at or after ``moment``."""
    hour = truncate(moment, Granularity.HOUR)
    return hour if hour == moment else hour + timedelta(hours=1)


@dataclass(frozen=True)
class StatisticsWindows:
    """The instants the statistics are measured from, all derived from ``now``."""

    now: datetime

    @property
    def period_start(self) -> datetime:
        return truncate(self.now, Granularity.MONTH)

    def parameters(self) -> dict[str, datetime]:
        """Bind parameters of STATISTICS_SQL (but the workspace)."""
        starts = {
            "long": self.now - ACTIVE_LONG,
            "short": self.now - ACTIVE_SHORT,
            "burn": burn_since(self.period_start, self.now),
        }
        bounds = {f"{name}_since": since for name, since in starts.items()}
        bounds |= {f"{name}_whole": _next_whole_hour(since) for name, since in starts.items()}
        return {**bounds, "period_start": self.period_start}


async def workspace_statistics(info: Info, workspace_id: uuid.UUID) -> WorkspaceStatistics:
    """The statistics of a workspace (the caller's right to read its usage checked)."""
    windows = StatisticsWindows(datetime.now(UTC))
    params = {"w": workspace_id, **windows.parameters()}
    row = (await info.context.loaders.fetch(STATISTICS_SQL.bindparams(**params)))[0]
    views = await budgets_of(info, workspace_id)
    budget = next((v for v in views if v.budget.scope is BudgetScope.WORKSPACE), None)
    spent = Decimal(row.spent)
    return WorkspaceStatistics(
        members=row.members,
        projects=row.projects,
        conversations=row.conversations,
        messages=row.messages,
        active_users_7d=row.active_short,
        active_users_30d=row.active_long,
        period_start=windows.period_start,
        period_end=next_start(windows.period_start, Granularity.MONTH),
        spent=spent,
        forecast=projected_spend(spent, Decimal(row.trailing), windows.period_start, windows.now),
        budget=None if budget is None else BudgetType.from_view(budget),
    )


@strawberry.type
class StatisticsQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Members, projects, conversations, messages, active users and this"
        " period's spend against the workspace budget (members and above).",
    )
    async def workspace_statistics(
        self, info: Info, workspace_id: strawberry.ID
    ) -> WorkspaceStatisticsResult:
        workspace = decode_id(workspace_id, "Workspace", field="workspaceId")
        await require_usage_reader(info, workspace)
        return await workspace_statistics(info, workspace)
