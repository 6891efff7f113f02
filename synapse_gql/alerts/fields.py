"""The ``alerts`` connection field, attached to ``Workspace``."""

from __future__ import annotations

from typing import Any

import strawberry

from synapse_gql.alerts.types import AlertStatusType, AlertType
from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs


def alerts_field() -> Any:
    """An ``alerts(status, first, after, last, before)`` connection of a workspace."""

    async def alerts(
        root: Any,
        info: Info,
        status: AlertStatusType | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AlertType]:
        from synapse_gql.alerts.queries import alert_connection

        args = PageArgs(first, after, last, before)
        return await alert_connection(info, root.db_id, status, args)

    return strawberry.field(
        resolver=alerts,
        description="Alerts of the workspace, newest first, optionally of one status (members"
        " and above; empty for viewers).",
    )
