"""``usageSummary`` fields of Project, User and LLM, made here once (the resolvers are
imported when called, so the types carrying the fields import nothing of analytics')."""

from __future__ import annotations

from typing import Any

from synapse_gql.analytics.ranges import Granularity
from synapse_gql.analytics.summary_sql import GroupBy
from synapse_gql.analytics.types import UsageFilter, UsageSummaryResult
from synapse_gql.context import Info

DESCRIPTIONS = {
    "project": "Usage of this project (members of its workspace and above).",
    "user": "Your own usage across the workspaces where you are a member or above"
    " (FORBIDDEN for other users).",
    "llm": "Usage of this model across every workspace (platform admins).",
}


def usage_summary_field(scope: str) -> Any:
    """A ``usageSummary(filter, granularity, groupBy)`` field of ``scope``'s type."""
    import strawberry

    async def usage_summary(
        root: Any,
        info: Info,
        filter: UsageFilter | None = None,
        granularity: Granularity = Granularity.DAY,
        group_by: list[GroupBy] | None = None,
    ) -> UsageSummaryResult:
        from synapse_gql.analytics.scopes import scoped_summary

        return await scoped_summary(info, scope, root, filter, granularity, group_by)

    return strawberry.field(resolver=usage_summary, description=DESCRIPTIONS[scope])
