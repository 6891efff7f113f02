"""Writing a dashboard's widgets: the list is replaced as a whole, in order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import ChartKind, DashboardWidget

DEFAULT_CACHE_SECONDS = 60


@dataclass(frozen=True, kw_only=True)
class WidgetSpec:
    """A widget as saved: a query document, its variables, a chart kind and a cache time."""

    title: str
    operation: str
    chart_kind: ChartKind
    variables: dict[str, Any] = field(default_factory=dict)
    cache_seconds: int = DEFAULT_CACHE_SECONDS


async def replace_widgets(
    session: AsyncSession, dashboard_id: uuid.UUID, specs: Sequence[WidgetSpec]
) -> None:
    """Delete the dashboard's widgets and insert ``specs`` at positions 0, 1, ..."""
    await session.execute(
        delete(DashboardWidget).where(DashboardWidget.dashboard_id == dashboard_id)
    )
    session.add_all(
        DashboardWidget(
            dashboard_id=dashboard_id,
            position=position,
            title=spec.title,
            operation=spec.operation,
            variables=spec.variables,
            chart_kind=spec.chart_kind,
            cache_seconds=spec.cache_seconds,
        )
        for position, spec in enumerate(specs)
    )
    await session.flush()
