"""Live usage of a workspace: each LLM call once it is metered (members and above; a
subscriber whose rights change is re-checked and refused once below member)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from functools import partial
from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.errors import SubscriptionRefused
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.usage.live import usage_events
from synapse_gql.usage.queries import USAGE_ROLE
from synapse_gql.usage.types import UsageLogType
from synapse_gql.workspaces.feeds import workspace_feed

UsageEvent = Annotated[UsageLogType | SubscriptionRefused, strawberry.union("WorkspaceUsageEvent")]


async def _usage_stream(info: Info, workspace_id: uuid.UUID) -> AsyncIterator[UsageLogType]:
    async for row in usage_events(info.context.state, workspace_id):
        info.context.refresh_loaders()
        yield UsageLogType.from_row(row)


@strawberry.type
class UsageSubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="Every LLM call of the workspace as soon as it is metered (answers,"
        " one-shot calls, failed and cancelled calls): a live feed for usage dashboards.",
    )
    async def workspace_usage(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[UsageEvent, None]:
        feed = workspace_feed(info, workspace_id, USAGE_ROLE, partial(_usage_stream, info))
        async for event in feed:
            yield event
