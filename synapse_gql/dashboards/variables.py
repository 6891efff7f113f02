"""The variables a widget's query runs with: its stored ones, ``$workspaceId`` filled
with the dashboard's workspace when the query declares it and the widget does not set it,
and relative times resolved.

A relative time is a string value of a ``DateTime`` variable: ``now``, optionally minus
an offset (``now-30d``; units m, h, d, w), optionally truncated to the start of its UTC
hour, day, week (Monday) or month (``now-30d/d``, ``now/M``), as Grafana writes them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from graphql import NamedTypeNode, NonNullTypeNode, OperationDefinitionNode, TypeNode

from synapse_gql.analytics.ranges import Granularity, truncate

RELATIVE_TIME = re.compile(r"^now(?:-(\d{1,6})([mhdw]))?(?:/([hdwM]))?$")
OFFSET_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
TRUNCATE_TO = {
    "h": Granularity.HOUR,
    "d": Granularity.DAY,
    "w": Granularity.WEEK,
    "M": Granularity.MONTH,
}
WORKSPACE_VARIABLE = "workspaceId"
TIME_TYPE = "DateTime"
VARIABLES_NOTE = (
    "`$workspaceId`, when the query declares it and the variables do not set it, is the"
    " dashboard's workspace. A `DateTime` variable may be a relative time: `now`, minus an"
    " offset (`now-30d`; units m, h, d, w), truncated to the start of its UTC hour, day,"
    " week or month (`now-30d/d`, `now/M`)."
)


def relative_time(value: str, now: datetime) -> datetime | None:
    """The instant ``value`` names relative to ``now``; None when it names none."""
    match = RELATIVE_TIME.match(value)
    if match is None:
        return None
    amount, unit, truncation = match.groups()
    moment = now
    if amount is not None:
        moment -= timedelta(**{OFFSET_UNITS[unit]: int(amount)})
    if truncation is not None:
        moment = truncate(moment, TRUNCATE_TO[truncation])
    return moment


def _type_name(node: TypeNode) -> str | None:
    if isinstance(node, NonNullTypeNode):
        node = node.type
    return node.name.value if isinstance(node, NamedTypeNode) else None


def run_variables(
    operation: OperationDefinitionNode,
    stored: Mapping[str, Any],
    workspace_global_id: str,
    now: datetime,
) -> dict[str, Any]:
    """The variables to run ``operation`` with (see the module's description)."""
    values = dict(stored)
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        declared = _type_name(definition.type)
        if name == WORKSPACE_VARIABLE and name not in values:
            values[name] = workspace_global_id
        value = values.get(name)
        if declared == TIME_TYPE and isinstance(value, str):
            moment = relative_time(value, now)
            if moment is not None:
                values[name] = moment.isoformat()
    return values
