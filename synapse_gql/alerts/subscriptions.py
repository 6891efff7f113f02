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
from synapse_gql.errors import DomainError
from synapse_gql.gql.errors import SubscriptionRefused
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.realtime.guard import watched
from synapse_gql.workspaces.access import require_role

AlertEventUnion = Annotated[
    AlertType | SubscriptionRefused, strawberry.union("WorkspaceAlertEvent")
]

WORKSPACE_PATH = ["workspaceId"]


async def _workspace(info: Info, workspace_id: strawberry.ID) -> uuid.UUID:
    viewer = info.context.require_viewer()
    decoded = decode_id(workspace_id, "Workspace", field=WORKSPACE_PATH)
    async with info.context.sessions() as session:
        await require_role(session, decoded, viewer.id, READ_ROLE, field=WORKSPACE_PATH)
    return decoded


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
        try:
            decoded = await _workspace(info, workspace_id)
        except DomainError as error:
            yield SubscriptionRefused.from_exception(error)
            return
        check = partial(_workspace, info, workspace_id)
        async for event in watched(info, check, _alert_stream(info, decoded)):
            yield event
