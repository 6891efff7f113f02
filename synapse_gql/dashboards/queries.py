"""Reading dashboards: ``dashboard(id:)``, ``Workspace.dashboards`` (your own and the
shared ones, for any member) and ``node`` resolution; widgets batched per request."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

import strawberry
from sqlalchemy import ColumnElement, or_, select

from synapse_gql.context import Info
from synapse_gql.dashboards.types import DashboardType
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id, register_node
from synapse_gql.models import Dashboard, DashboardWidget
from synapse_gql.workspaces.access import viewer_role


def _readable_by(viewer_id: uuid.UUID) -> ColumnElement[bool]:
    return or_(Dashboard.shared, Dashboard.owner_id == viewer_id)


async def workspace_dashboards(info: Info, workspace_id: uuid.UUID) -> list[DashboardType]:
    """The viewer's dashboards and the shared ones of a workspace they belong to, oldest
    first (batched over workspaces)."""
    viewer = info.context.viewer
    if viewer is None or await viewer_role(info, workspace_id) is None:
        return []

    async def batch(ids: Sequence[uuid.UUID]) -> list[list[Dashboard]]:
        stmt = (
            select(Dashboard)
            .where(Dashboard.workspace_id.in_(ids), _readable_by(viewer.id))
            .order_by(Dashboard.created_at, Dashboard.id)
        )
        grouped: dict[uuid.UUID, list[Dashboard]] = defaultdict(list)
        for row in await info.context.loaders.rows(stmt):
            grouped[row.workspace_id].append(row)
        return [grouped.get(i, []) for i in ids]

    rows = await info.context.loaders.get("workspace_dashboards", batch).load(workspace_id)
    return [DashboardType.from_row(row) for row in rows]


async def dashboard_by_id(info: Info, dashboard_id: uuid.UUID) -> DashboardType | None:
    """The dashboard when the viewer may read it, else None."""
    viewer = info.context.viewer
    row = await info.context.loaders.by_id(Dashboard).load(dashboard_id)
    if viewer is None or row is None or (not row.shared and row.owner_id != viewer.id):
        return None
    if await viewer_role(info, row.workspace_id) is None:
        return None
    return DashboardType.from_row(row)


async def widgets_of(info: Info, dashboard_id: uuid.UUID) -> list[DashboardWidget]:
    """A dashboard's widgets in order (batched over dashboards)."""
    loader = info.context.loaders.children(
        DashboardWidget, DashboardWidget.dashboard_id, order_by=[DashboardWidget.position]
    )
    return await loader.load(dashboard_id)


async def _dashboards(info: Info, ids: Sequence[uuid.UUID]) -> list[DashboardType | None]:
    return [await dashboard_by_id(info, i) for i in ids]


register_node("Dashboard", _dashboards)


@strawberry.type
class DashboardQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="A dashboard you may read (yours, or a shared one of your workspace);"
        " null otherwise.",
    )
    async def dashboard(self, info: Info, id: strawberry.ID) -> DashboardType | None:
        return await dashboard_by_id(info, decode_id(id, "Dashboard"))
