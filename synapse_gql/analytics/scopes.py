"""Who may read the usage summary of a project, a user or a model."""

from __future__ import annotations

from typing import Any

from synapse_gql.analytics.queries import require_usage_reader, summarise
from synapse_gql.analytics.ranges import Granularity
from synapse_gql.analytics.summary_sql import GroupBy, UsageScope
from synapse_gql.analytics.types import UsageFilter, UsageSummary
from synapse_gql.context import Info
from synapse_gql.errors import Forbidden


async def _scope(info: Info, kind: str, root: Any) -> UsageScope:
    viewer = info.context.require_viewer()
    if kind == "project":
        await require_usage_reader(info, root.workspace_id, field=["usageSummary"])
        return UsageScope(workspace_id=root.workspace_id, project_id=root.db_id)
    if kind == "user":
        if root.db_id != viewer.id:
            raise Forbidden("You can only see your own usage.", field="usageSummary")
        return UsageScope(member_of=viewer.id, user_id=viewer.id)
    if not viewer.is_platform_admin:
        raise Forbidden("Only platform administrators see a model's usage.", field="usageSummary")
    return UsageScope(llm_id=root.db_id)


async def scoped_summary(
    info: Info,
    kind: str,
    root: Any,
    given: UsageFilter | None,
    granularity: Granularity,
    group_by: list[GroupBy] | None,
) -> UsageSummary:
    """The usage summary under a project, a user (the viewer only) or a model."""
    scope = await _scope(info, kind, root)
    return await summarise(info, scope, given, granularity, group_by)
