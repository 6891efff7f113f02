"""Alert mutations: acknowledgeAlert and resolveAlert (workspace admins and owners)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.alerts import service
from synapse_gql.alerts.types import AcknowledgeAlertInput, AlertType, ResolveAlertInput
from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import AlertEvent

AlertResult = Annotated[AlertType | UserError, strawberry.union("AlertResult")]
Change = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[AlertEvent]]


async def _apply(info: Info, alert_id: strawberry.ID, change: Change) -> AlertType:
    viewer = info.context.require_viewer()
    decoded = decode_id(alert_id, "Alert", field=service.ALERT_PATH)
    async with info.context.state.db.transaction() as session:
        row = await change(session, viewer.id, decoded)
    return AlertType.from_row(row)


@strawberry.type
class AlertMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Acknowledge an open alert (admins and owners): it stays active, marked"
        " with who saw it and when.",
    )
    async def acknowledge_alert(self, info: Info, input: AcknowledgeAlertInput) -> AlertResult:
        return await _apply(info, input.alert_id, service.acknowledge)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Resolve an open or acknowledged alert (admins and owners).",
    )
    async def resolve_alert(self, info: Info, input: ResolveAlertInput) -> AlertResult:
        return await _apply(info, input.alert_id, service.resolve)
