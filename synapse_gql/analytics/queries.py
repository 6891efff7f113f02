"""``usageSummary`` on Query, Project, User and LLM: who may read which usage, and the
summary of it.

Usage follows the usage role rule: members, admins and owners of a workspace (not
viewers). A user's summary covers only the viewer's own calls in the workspaces where they
are a member or above; a model's covers every workspace and is for platform admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types.nodes import FragmentSpread, InlineFragment, Selection

from synapse_gql.analytics.efficiency import llm_efficiency
from synapse_gql.analytics.efficiency_types import (
    LLMEfficiency,
    LLMEfficiencyReport,
    LLMEfficiencyResult,
)
from synapse_gql.analytics.ranges import Granularity, summary_range
from synapse_gql.analytics.summary import usage_summary
from synapse_gql.analytics.summary_sql import DimensionFilter, GroupBy, UsageScope
from synapse_gql.analytics.types import (
    PERCENTILE_FIELDS,
    UsageBucket,
    UsageFilter,
    UsageSummary,
    UsageSummaryResult,
)
from synapse_gql.context import Info
from synapse_gql.errors import Forbidden, NotFound
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import MemberRole
from synapse_gql.workspaces.access import viewer_role

USAGE_ROLE = MemberRole.MEMBER


async def require_usage_reader(
    info: Info, workspace_id: uuid.UUID, field: Sequence[str] = ("workspaceId",)
) -> None:
    """NOT_FOUND unless the viewer belongs to the workspace, FORBIDDEN below member."""
    role = await viewer_role(info, workspace_id)
    if role is None:
        raise NotFound("No such workspace.", field=list(field))
    if role.rank < USAGE_ROLE.rank:
        raise Forbidden("Usage needs the member role or higher.", field=list(field))


def _ids(values: list[strawberry.ID] | None, type_name: str, name: str) -> list[uuid.UUID]:
    return [decode_id(v, type_name, field=["filter", name]) for v in values or []]


def dimension_filter(given: UsageFilter | None) -> DimensionFilter:
    """The filter's dimensions with their global IDs decoded (INVALID_ID on a bad one)."""
    if given is None:
        return DimensionFilter()
    return DimensionFilter(
        project_ids=_ids(given.project_ids, "Project", "projectIds"),
        user_ids=_ids(given.user_ids, "User", "userIds"),
        agent_ids=_ids(given.agent_ids, "Agent", "agentIds"),
        llm_ids=_ids(given.llm_ids, "LLM", "llmIds"),
        providers=list(given.providers or []),
        api_token_ids=_ids(given.api_token_ids, "ApiToken", "apiTokenIds"),
        key_sources=list(given.key_sources or []),
        statuses=list(given.statuses or []),
    )


def _names(selections: Iterable[Selection]) -> Iterable[str]:
    for selection in selections:
        if not isinstance(selection, FragmentSpread | InlineFragment):
            yield selection.name
        yield from _names(selection.selections)


def _wants_percentiles(info: Info) -> bool:
    return not PERCENTILE_FIELDS.isdisjoint(_names(info.selected_fields))


async def summarise(
    info: Info,
    scope: UsageScope,
    given: UsageFilter | None,
    granularity: Granularity,
    group_by: list[GroupBy] | None,
) -> UsageSummary:
    """The summary of ``scope`` (already authorised) under the caller's filter."""
    span = summary_range(given.from_ if given else None, given.to if given else None, granularity)
    summary = await usage_summary(
        info.context.loaders.fetch,
        span,
        scope,
        dimension_filter(given),
        group_by or [],
        percentiles=_wants_percentiles(info),
    )
    return UsageSummary(
        buckets=[UsageBucket.of(b) for b in summary.buckets],
        totals=UsageBucket.of(summary.totals),
    )


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Usage of a workspace (members and above) by time bucket and the"
        " `groupBy` dimensions; ranges over 3660 days or more than 1000 buckets are refused.",
    )
    async def usage_summary(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        filter: UsageFilter | None = None,
        granularity: Granularity = Granularity.DAY,
        group_by: list[GroupBy] | None = None,
    ) -> UsageSummaryResult:
        workspace = decode_id(workspace_id, "Workspace", field="workspaceId")
        await require_usage_reader(info, workspace)
        scope = UsageScope(workspace_id=workspace)
        return await summarise(info, scope, filter, granularity, group_by)

    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Per model over [from, to): cost per 1,000 tokens, tokens per second,"
        " latency and TTFT percentiles, error and cancellation rates and the mean feedback"
        " score of its answers, ranked by score per dollar. Of a workspace (members and"
        " above), or of every workspace without `workspaceId` (platform admins).",
    )
    async def llm_efficiency(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        workspace_id: strawberry.ID | None = None,
    ) -> LLMEfficiencyResult:
        workspace = None
        if workspace_id is not None:
            workspace = decode_id(workspace_id, "Workspace", field="workspaceId")
            await require_usage_reader(info, workspace)
        elif not info.context.require_viewer().is_platform_admin:
            raise Forbidden(
                "Only platform administrators see every workspace.", field="workspaceId"
            )
        span = summary_range(from_, to, Granularity.MONTH, path=())
        models = await llm_efficiency(info.context.loaders.fetch, span, workspace)
        return LLMEfficiencyReport(
            start=span.start, end=span.end, models=[LLMEfficiency(model=m) for m in models]
        )
