"""Dashboard mutations: createDashboard, updateDashboard and deleteDashboard."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.dashboards import service
from synapse_gql.dashboards.documents import DocumentChecker
from synapse_gql.dashboards.queries import dashboard_by_id
from synapse_gql.dashboards.types import (
    CreateDashboardInput,
    DashboardType,
    DeleteDashboardInput,
    UpdateDashboardInput,
    WidgetInput,
)
from synapse_gql.dashboards.widgets import WidgetSpec
from synapse_gql.errors import InvalidInput
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.workspaces.mutations import Deleted, DeleteResult

DashboardResult = Annotated[DashboardType | UserError, strawberry.union("DashboardResult")]
DASHBOARD_FIELD = ["input", "dashboardId"]


def _variables(given: object, index: int) -> dict[str, Any]:
    """The stored variables: a JSON object, ``{}`` for none."""
    if given is None:
        return {}
    if not isinstance(given, dict):
        path = ["input", "widgets", str(index), "variables"]
        raise InvalidInput("Must be a JSON object.", field=path)
    return given


def _specs(widgets: list[WidgetInput] | None) -> list[WidgetSpec] | None:
    if widgets is None:
        return None
    return [
        WidgetSpec(
            title=widget.title,
            operation=widget.operation,
            chart_kind=widget.chart_kind,
            variables=_variables(widget.variables, index),
            cache_seconds=widget.cache_seconds,
        )
        for index, widget in enumerate(widgets)
    ]


def _checker(info: Info) -> DocumentChecker:
    schema: Any = info.schema
    return DocumentChecker(schema._schema, info.context.settings)


async def _read_back(info: Info, dashboard_id: Any) -> DashboardType:
    found = await dashboard_by_id(info, dashboard_id)
    assert found is not None  # committed just above by a reader of it
    return found


@strawberry.type
class DashboardMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Create a dashboard in a workspace (members and above); each widget's"
        " query is checked against the schema (INVALID_INPUT at the widget's field).",
    )
    async def create_dashboard(self, info: Info, input: CreateDashboardInput) -> DashboardResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        widgets = _specs(input.widgets) or []
        async with info.context.state.db.transaction() as session:
            row = await service.create_dashboard(
                session, _checker(info), viewer.id, workspace_id, input.name, input.shared, widgets
            )
        return await _read_back(info, row.id)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Rename, share or unshare a dashboard, or replace its widgets (its owner;"
        " a shared one also the workspace's admins).",
    )
    async def update_dashboard(self, info: Info, input: UpdateDashboardInput) -> DashboardResult:
        viewer = info.context.require_viewer()
        dashboard_id = decode_id(input.dashboard_id, "Dashboard", field=DASHBOARD_FIELD)
        changes = service.DashboardChanges(
            name=input.name, shared=input.shared, widgets=_specs(input.widgets)
        )
        async with info.context.state.db.transaction() as session:
            await service.update_dashboard(
                session, _checker(info), viewer.id, dashboard_id, changes
            )
        return await _read_back(info, dashboard_id)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Delete a dashboard (its owner; a shared one also the workspace's admins).",
    )
    async def delete_dashboard(self, info: Info, input: DeleteDashboardInput) -> DeleteResult:
        viewer = info.context.require_viewer()
        dashboard_id = decode_id(input.dashboard_id, "Dashboard", field=DASHBOARD_FIELD)
        async with info.context.state.db.transaction() as session:
            await service.delete_dashboard(session, viewer.id, dashboard_id)
        return Deleted(id=input.dashboard_id)
