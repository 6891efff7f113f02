"""``workspaceMetrics``: live figures of a workspace (members and above; a subscriber whose
rights change is re-checked and refused once below member)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from functools import partial
from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.errors import SubscriptionRefused
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.metrics.live import live_metrics_of
from synapse_gql.metrics.snapshot import MetricsWindow
from synapse_gql.metrics.types import WorkspaceMetricsType
from synapse_gql.usage.queries import USAGE_ROLE
from synapse_gql.workspaces.feeds import workspace_feed

MetricsEvent = Annotated[
    WorkspaceMetricsType | SubscriptionRefused, strawberry.union("WorkspaceMetricsEvent")
]


def _metrics(
    info: Info, window: MetricsWindow, workspace_id: uuid.UUID
) -> AsyncIterator[WorkspaceMetricsType]:
    return live_metrics_of(info.context.state).tickers.updates(workspace_id, window)


@strawberry.type
class MetricsSubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="Live figures of the workspace over a sliding window (spend, calls,"
        " tokens, errors, answers streaming, latency percentiles): a snapshot at once, then"
        " an update at most once a second while they change.",
    )
    async def workspace_metrics(
        self, info: Info, workspace_id: strawberry.ID, window: MetricsWindow
    ) -> AsyncGenerator[MetricsEvent, None]:
        feed = workspace_feed(info, workspace_id, USAGE_ROLE, partial(_metrics, info, window))
        async for event in feed:
            yield event
