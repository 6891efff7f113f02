"""The dashboard every new workspace starts with: spend by day, spend by model this
month, the models' efficiency and the weekly feedback score.

Each document declares ``$workspaceId`` (filled with the dashboard's workspace) and takes
its dates as relative times (``now-30d/d``: see ``dashboards.variables``), so the widgets
stay current. A test validates them against the running schema.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.dashboards.widgets import WidgetSpec, replace_widgets
from synapse_gql.models import ChartKind, Dashboard

DEFAULT_NAME = "Overview"
USER_ERROR = "... on UserError { code message path }"

SPEND_BY_DAY = f"""query SpendByDay($workspaceId: ID!, $from: DateTime!) {{
  usageSummary(workspaceId: $workspaceId, filter: {{from: $from}}, granularity: DAY) {{
    ... on UsageSummary {{ buckets {{ start cost calls }} totals {{ cost calls }} }}
    {USER_ERROR}
  }}
}}"""

SPEND_BY_MODEL = f"""query SpendByModel($workspaceId: ID!, $from: DateTime!) {{
  usageSummary(
    workspaceId: $workspaceId, filter: {{from: $from}}, granularity: MONTH, groupBy: [MODEL]
  ) {{
    ... on UsageSummary {{ buckets {{ llmId llm {{ displayName }} cost calls }} totals {{ cost }} }}
    {USER_ERROR}
  }}
}}"""

MODEL_EFFICIENCY = f"""query ModelEfficiency($workspaceId: ID!, $from: DateTime!, $to: DateTime!) {{
  llmEfficiency(workspaceId: $workspaceId, from: $from, to: $to) {{
    ... on LLMEfficiencyReport {{
      models {{
        rank llmId llm {{ displayName }} calls cost costPer1kTokens tokensPerSecond
        latencyP50 latencyP95 errorRate feedbackScore feedbackCount scorePerDollar
      }}
    }}
    {USER_ERROR}
  }}
}}"""

FEEDBACK_TREND = f"""query FeedbackScoreTrend(
  $workspaceId: ID!, $week1: DateTime!, $week2: DateTime!, $week3: DateTime!,
  $week4: DateTime!, $now: DateTime!
) {{
  week1: feedbackSummary(workspaceId: $workspaceId, from: $week1, to: $week2) {{ ...Score }}
  week2: feedbackSummary(workspaceId: $workspaceId, from: $week2, to: $week3) {{ ...Score }}
  week3: feedbackSummary(workspaceId: $workspaceId, from: $week3, to: $week4) {{ ...Score }}
  week4: feedbackSummary(workspaceId: $workspaceId, from: $week4, to: $now) {{ ...Score }}
}}

fragment Score on FeedbackBreakdownResult {{
  ... on FeedbackBreakdown {{ from to totals {{ count meanScore positiveShare }} }}
  {USER_ERROR}
}}"""

DEFAULT_WIDGETS = (
    WidgetSpec(
        title="Spend by day",
        operation=SPEND_BY_DAY,
        variables={"from": "now-30d/d"},
        chart_kind=ChartKind.LINE,
    ),
    WidgetSpec(
        title="Spend by model this month",
        operation=SPEND_BY_MODEL,
        variables={"from": "now/M"},
        chart_kind=ChartKind.BAR,
    ),
    WidgetSpec(
        title="Model efficiency",
        operation=MODEL_EFFICIENCY,
        variables={"from": "now-30d", "to": "now"},
        chart_kind=ChartKind.TABLE,
        cache_seconds=300,
    ),
    WidgetSpec(
        title="Feedback score by week",
        operation=FEEDBACK_TREND,
        variables={
            "week1": "now-3w/w",
            "week2": "now-2w/w",
            "week3": "now-1w/w",
            "week4": "now/w",
            "now": "now",
        },
        chart_kind=ChartKind.LINE,
        cache_seconds=300,
    ),
)


async def create_default_dashboard(
    session: AsyncSession, workspace_id: uuid.UUID, owner_id: uuid.UUID
) -> Dashboard:
    """The shared default dashboard of a new workspace, owned by its creator."""
    dashboard = Dashboard(
        workspace_id=workspace_id, owner_id=owner_id, name=DEFAULT_NAME, shared=True
    )
    session.add(dashboard)
    await session.flush()
    await replace_widgets(session, dashboard.id, DEFAULT_WIDGETS)
    return dashboard
