"""GraphQL types of dashboards: the Dashboard node, its widgets and their data, and the
inputs of createDashboard, updateDashboard and deleteDashboard."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from synapse_gql.context import Info
from synapse_gql.dashboards.cache import WidgetResult
from synapse_gql.dashboards.execution import widget_result
from synapse_gql.dashboards.variables import VARIABLES_NOTE
from synapse_gql.dashboards.widgets import DEFAULT_CACHE_SECONDS
from synapse_gql.gql.refs import UserRef, WorkspaceRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import ChartKind, Dashboard, DashboardWidget

strawberry.enum(ChartKind, name="ChartKind", description="How a client draws a widget's data.")
ChartKindType = ChartKind


@strawberry.type(description="An error of a widget's query, as the query alone would get it.")
class WidgetError:
    message: str
    code: str | None = strawberry.field(description="`extensions.code` of the error.")
    path: list[str] | None = strawberry.field(description="Where in the result it happened.")

    @classmethod
    def of(cls, formatted: dict[str, Any]) -> WidgetError:
        path = formatted.get("path")
        code = (formatted.get("extensions") or {}).get("code")
        return cls(
            message=formatted["message"],
            code=None if code is None else str(code),
            path=None if path is None else [str(part) for part in path],
        )


@strawberry.type(description="What a widget's query answered for you.")
class WidgetData:
    result: JSON | None = strawberry.field(
        description="The query's `data`, as running the query itself gives it."
    )
    errors: list[WidgetError] = strawberry.field(
        description="The query's errors (limits, rate limits, fields refused); empty when none."
    )
    computed_at: datetime = strawberry.field(
        description="When the query ran: results are cached per widget and viewer for the"
        " widget's `cacheSeconds` (results with errors are not)."
    )

    @classmethod
    def of(cls, result: WidgetResult) -> WidgetData:
        errors = [WidgetError.of(error) for error in result.errors]
        return cls(result=result.data, errors=errors, computed_at=result.computed_at)


@strawberry.type(name="DashboardWidget", description="A stored query and how to draw it.")
class DashboardWidgetType:
    row: strawberry.Private[DashboardWidget]
    workspace_id: strawberry.Private[uuid.UUID]
    position: int = strawberry.field(description="0 for the first widget, then 1, 2, ...")
    title: str
    operation: str = strawberry.field(description="The query document the widget runs.")
    variables: JSON = strawberry.field(description=f"Its stored variables. {VARIABLES_NOTE}")
    chart_kind: ChartKindType
    cache_seconds: int

    @classmethod
    def of(cls, row: DashboardWidget, workspace_id: uuid.UUID) -> DashboardWidgetType:
        return cls(
            row=row,
            workspace_id=workspace_id,
            position=row.position,
            title=row.title,
            operation=row.operation,
            variables=JSON(row.variables),
            chart_kind=row.chart_kind,
            cache_seconds=row.cache_seconds,
        )

    @strawberry.field(
        description="The query's result, run as you with the limits, cost and rate limits"
        " of any request."
    )
    async def data(self, info: Info) -> WidgetData:
        return WidgetData.of(await widget_result(info, self.row, self.workspace_id))


@strawberry.type(
    name="Dashboard",
    description="Widgets of a workspace's analytics: private to their owner, or shared with"
    " the workspace's members.",
)
class DashboardType(Node):
    db_id: strawberry.Private[uuid.UUID]
    workspace_db_id: strawberry.Private[uuid.UUID]
    owner_db_id: strawberry.Private[uuid.UUID]
    name: str
    shared: bool = strawberry.field(description="Every member of the workspace reads it.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Dashboard) -> DashboardType:
        return cls(
            id=to_global_id("Dashboard", row.id),
            db_id=row.id,
            workspace_db_id=row.workspace_id,
            owner_db_id=row.owner_id,
            name=row.name,
            shared=row.shared,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="Who made it; they, and for a shared one the admins, change it.")
    async def owner(self, info: Info) -> UserRef | None:
        from synapse_gql.accounts.types import load_user

        return await load_user(info, self.owner_db_id)

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        from synapse_gql.workspaces.types import load_workspace

        return await load_workspace(info, self.workspace_db_id)

    @strawberry.field(description="In order of position.")
    async def widgets(self, info: Info) -> list[DashboardWidgetType]:
        from synapse_gql.dashboards.queries import widgets_of

        rows = await widgets_of(info, self.db_id)
        return [DashboardWidgetType.of(row, self.workspace_db_id) for row in rows]


@strawberry.input(description="A widget: a query document with its variables and how to draw it.")
class WidgetInput:
    title: str
    operation: str = strawberry.field(
        description="One query operation, valid against the schema and within the query limits."
    )
    chart_kind: ChartKindType
    variables: JSON | None = strawberry.field(
        default=None, description=f"A JSON object; none: {{}}. {VARIABLES_NOTE}"
    )
    cache_seconds: int = strawberry.field(
        default=DEFAULT_CACHE_SECONDS, description="0 to 3600; 0: never cached."
    )


@strawberry.input
class CreateDashboardInput:
    workspace_id: strawberry.ID
    name: str
    shared: bool = False
    widgets: list[WidgetInput] | None = strawberry.field(
        default=None, description="At most 24, in order."
    )


@strawberry.input(description="Changes to a dashboard; a field left null stays as it is.")
class UpdateDashboardInput:
    dashboard_id: strawberry.ID
    name: str | None = None
    shared: bool | None = None
    widgets: list[WidgetInput] | None = strawberry.field(
        default=None, description="The new list, replacing every widget."
    )


@strawberry.input
class DeleteDashboardInput:
    dashboard_id: strawberry.ID
