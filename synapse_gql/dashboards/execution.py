"""Running a widget's query through the schema as the viewer: the same limits, cost and
rate-limit checks as any request, over the request's read connection; the result is
cached per widget and viewer for the widget's cache time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLError, parse

from synapse_gql.context import Context, Info
from synapse_gql.dashboards.cache import WidgetCache, WidgetResult
from synapse_gql.dashboards.documents import single_query
from synapse_gql.dashboards.variables import run_variables
from synapse_gql.errors import ErrorCode
from synapse_gql.gql.relay import to_global_id
from synapse_gql.models import DashboardWidget

# Set on the context a widget's query runs in: a widget never runs widgets.
INSIDE_WIDGET = "synapse_inside_widget"


def _refusal(message: str, now: datetime) -> WidgetResult:
    error = {"message": message, "extensions": {"code": ErrorCode.INVALID_INPUT.value}}
    return WidgetResult(data=None, errors=[error], computed_at=now)


def _cache(info: Info) -> WidgetCache:
    return info.context.state.widget_cache


async def widget_result(
    info: Info, widget: DashboardWidget, workspace_id: uuid.UUID
) -> WidgetResult:
    """The widget's query result for the viewer, from the cache while it is fresh."""
    viewer = info.context.require_viewer()
    now = datetime.now(UTC)
    if getattr(info.context, INSIDE_WIDGET, False):
        return _refusal("A widget may not read the data of widgets.", now)
    key = (widget.id, viewer.id)
    cached = _cache(info).get(key)
    if cached is not None:
        return cached
    result = await _run(info, widget, workspace_id, now)
    _cache(info).put(key, result, widget.cache_seconds)
    return result


def _widget_context(outer: Context) -> Context:
    inner = Context(outer.state, outer.viewer, reads=outer.reads)
    inner.request = outer.request
    setattr(inner, INSIDE_WIDGET, True)
    return inner


async def _run(
    info: Info, widget: DashboardWidget, workspace_id: uuid.UUID, now: datetime
) -> WidgetResult:
    try:
        operation = single_query(parse(widget.operation))
    except GraphQLError as error:
        return _refusal(f"Not a GraphQL document: {error.message}", now)
    if operation is None:
        return _refusal("A widget runs exactly one query operation.", now)
    workspace = to_global_id("Workspace", workspace_id)
    variables = run_variables(operation, widget.variables, workspace, now)
    result = await info.schema.execute(
        widget.operation, variable_values=variables, context_value=_widget_context(info.context)
    )
    errors: list[dict[str, Any]] = [dict(error.formatted) for error in result.errors or []]
    return WidgetResult(data=result.data, errors=errors, computed_at=now)
