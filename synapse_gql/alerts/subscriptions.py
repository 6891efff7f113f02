"""Live alerts of a workspace: each alert raised, acknowledged or resolved, once committed
(members and above; a subscriber whose rights change is re-checked and refused once below
member)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from functools import partial
from typing import Annotated

import strawberry

from synapse_gql.alerts.live import alert_events
from synapse_gql.alerts.queries import READ_ROLE
from synapse_gql.alerts.types import AlertType
from synapse_gql.context import Info
from synapse_gql.gql.errors import SubscriptionRefused
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.workspaces.feeds import workspace_feed

AlertEventUnion = Annotated[
    AlertType | SubscriptionRefused, strawberry.union("WorkspaceAlertEvent")
]


async def _alert_stream(info: Info, workspace_id: uuid.UUID) -> AsyncIterator[AlertType]:
    async for row in alert_events(info.context.state, workspace_id):
        info.context.refresh_loaders()
        yield AlertType.from_row(row)


@strawberry.type
class AlertSubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="Alerts of the workspace as they are raised, acknowledged or resolved.",
    )
    async def workspace_alerts(
        self, info: Info, workspace_id: strawberry.ID
    ) -> AsyncGenerator[AlertEventUnion, None]:
        feed = workspace_feed(info, workspace_id, READ_ROLE, partial(_alert_stream, info))
        async for event in feed:
            yield event
