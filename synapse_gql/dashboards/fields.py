"""The ``dashboards`` field, attached to ``Workspace``."""

from __future__ import annotations

from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.refs import DashboardRef


def dashboards_field() -> Any:
    """``dashboards`` of a workspace: the viewer's own and the shared ones, oldest first."""

    async def dashboards(root: Any, info: Info) -> list[DashboardRef]:
        from synapse_gql.dashboards.queries import workspace_dashboards

        return await workspace_dashboards(info, root.db_id)

    return strawberry.field(
        resolver=dashboards, description="Your dashboards and the shared ones, oldest first."
    )
