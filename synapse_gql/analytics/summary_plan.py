"""Which source serves which part of a summary's range: the monthly rollups for whole
months, the daily rollups for the other whole days, the hourly rollups for the other
whole hours, the usage rows for the rest (the edges).

The daily and monthly rollups keep only the model and provider, so they serve a summary
only when it groups and filters by nothing finer, and only for buckets they fit in: days
for DAY, WEEK and MONTH buckets, months for MONTH buckets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from synapse_gql.analytics.ranges import Granularity, SummaryRange, next_start, truncate
from synapse_gql.analytics.summary_sql import (
    FILTER_COLUMNS,
    DimensionFilter,
    GroupBy,
    UsageScope,
    Window,
)

COARSE_GROUPS = frozenset({GroupBy.MODEL, GroupBy.PROVIDER})
COARSE_FILTERS = frozenset({"llm_ids", "providers"})


@dataclass(frozen=True)
class Plan:
    """The windows (``start <= time < end``) each rollup serves; the usage rows serve
    what lies outside the range's whole hours."""

    months: list[Window]
    days: list[Window]
    hours: list[Window]


def _coarse_serves(
    span: SummaryRange, scope: UsageScope, filters: DimensionFilter, group_by: Sequence[GroupBy]
) -> bool:
    return (
        span.granularity is not Granularity.HOUR
        and COARSE_GROUPS.issuperset(group_by)
        and scope.user_id is None
        and scope.project_id is None
        and not any(getattr(filters, n) for n in FILTER_COLUMNS if n not in COARSE_FILTERS)
    )


def _whole(window: Window, unit: Granularity) -> Window | None:
    """The whole ``unit`` periods inside ``window``, None when there is none."""
    first = truncate(window[0], unit)
    if first < window[0]:
        first = next_start(first, unit)
    last = truncate(window[1], unit)
    return (first, last) if first < last else None


def _around(outer: Window, inner: Window | None) -> list[Window]:
    """``outer`` without ``inner`` (which lies inside it): up to two windows."""
    if inner is None:
        return [outer]
    pieces = [(outer[0], inner[0]), (inner[1], outer[1])]
    return [(low, high) for low, high in pieces if low < high]


def plan(
    span: SummaryRange, scope: UsageScope, filters: DimensionFilter, group_by: Sequence[GroupBy]
) -> Plan:
    """The coarsest rollups that can serve each part of the range."""
    hours = span.whole_hours
    if hours is None:
        return Plan([], [], [])
    days = (
        _whole(hours, Granularity.DAY) if _coarse_serves(span, scope, filters, group_by) else None
    )
    if days is None:
        return Plan([], [], [hours])
    months = _whole(days, Granularity.MONTH) if span.granularity is Granularity.MONTH else None
    return Plan([months] if months else [], _around(days, months), _around(hours, days))
