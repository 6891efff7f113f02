"""Reading alerts: ``Workspace.alerts`` (members and above) and ``node`` resolution."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, false, true

from synapse_gql.alerts.types import AlertType
from synapse_gql.context import Info
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.relay import register_node
from synapse_gql.models import AlertEvent, AlertStatus, MemberRole
from synapse_gql.workspaces.access import viewer_role, visible_rows

READ_ROLE = MemberRole.MEMBER


async def alert_connection(
    info: Info, workspace_id: uuid.UUID, status: AlertStatus | None, args: PageArgs
) -> Connection[AlertType]:
    """The workspace's alerts newest first, optionally of one status; empty below member.
    Batched across workspaces (one statement for pages, one for counts)."""
    role = await viewer_role(info, workspace_id)
    allowed = role is not None and role.rank >= READ_ROLE.rank
    where: list[ColumnElement[bool]] = [true() if allowed else false()]
    if status is not None:
        where.append(AlertEvent.status == status)
    spec = ChildList(
        name=("alerts", status, allowed),
        model=AlertEvent,
        parent=AlertEvent.workspace_id,
        key=SortKey(AlertEvent.created_at, AlertEvent.id),
        where=where,
    )
    return await child_connection(info, spec, workspace_id, args, AlertType.from_row)


async def _alerts(info: Info, ids: Sequence[uuid.UUID]) -> list[AlertType | None]:
    rows = await visible_rows(info, AlertEvent, ids, READ_ROLE)
    return [None if row is None else AlertType.from_row(row) for row in rows]


register_node("Alert", _alerts)
