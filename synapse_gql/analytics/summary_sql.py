"""The statements of a usage summary: monthly and daily rollup rows, hourly rollup rows
and usage rows, each for the windows of the range :mod:`summary_plan` gives it, by time
bucket and the chosen dimensions."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    case,
    false,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.types import NullType

from synapse_gql.analytics import histogram
from synapse_gql.analytics.ranges import SummaryRange
from synapse_gql.models import (
    ApiKeySource,
    MemberRole,
    UsageLog,
    UsageRollup,
    UsageRollupDaily,
    UsageRollupMonthly,
    UsageStatus,
)
from synapse_gql.workspaces.membership import readable_workspaces

ROLLUPS: Table = UsageRollup.__table__  # type: ignore[assignment]
LOGS: Table = UsageLog.__table__  # type: ignore[assignment]
DAILY: Table = UsageRollupDaily.__table__  # type: ignore[assignment]
MONTHLY: Table = UsageRollupMonthly.__table__  # type: ignore[assignment]

Window = tuple[datetime, datetime]


class GroupBy(enum.Enum):
    """A dimension a summary can be split by; the value is its column."""

    MODEL = "llm_id"
    PROVIDER = "provider"
    USER = "user_id"
    PROJECT = "project_id"
    AGENT = "agent_id"
    API_TOKEN = "api_token_id"
    STATUS = "status"
    KEY_SOURCE = "api_key_source"


@dataclass(frozen=True, kw_only=True)
class UsageScope:
    """Which usage rows a summary may read (every set condition applies).

    ``member_of`` restricts to the workspaces where that user is a member or above;
    ``workspace_id`` None with no other condition is every workspace (platform admins).
    """

    workspace_id: uuid.UUID | None = None
    member_of: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    llm_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class DimensionFilter:
    """Lists of accepted values per dimension; an empty list accepts every value."""

    project_ids: Sequence[uuid.UUID] = ()
    user_ids: Sequence[uuid.UUID] = ()
    agent_ids: Sequence[uuid.UUID] = ()
    llm_ids: Sequence[uuid.UUID] = ()
    providers: Sequence[str] = ()
    api_token_ids: Sequence[uuid.UUID] = ()
    key_sources: Sequence[ApiKeySource] = ()
    statuses: Sequence[UsageStatus] = ()


FILTER_COLUMNS = {
    "project_ids": "project_id",
    "user_ids": "user_id",
    "agent_ids": "agent_id",
    "llm_ids": "llm_id",
    "providers": "provider",
    "api_token_ids": "api_token_id",
    "key_sources": "api_key_source",
    "statuses": "status",
}


def _where(table: Table, scope: UsageScope, filters: DimensionFilter) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    if scope.member_of is not None:
        member = readable_workspaces(scope.member_of, MemberRole.MEMBER)
        terms.append(table.c.workspace_id.in_(member))
    for name in ("workspace_id", "user_id", "project_id", "llm_id"):
        value = getattr(scope, name)
        if value is not None:
            terms.append(table.c[name] == value)
    for name, column in FILTER_COLUMNS.items():
        values = list(getattr(filters, name))
        if values:
            terms.append(table.c[column].in_(values))
    return terms


def _bucket(column: ColumnElement[Any], span: SummaryRange) -> ColumnElement[datetime]:
    return func.date_trunc(span.granularity.value, column, "UTC")


def _counts(table: Table, calls: ColumnElement[Any]) -> list[ColumnElement[Any]]:
    def of_status(status: UsageStatus) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((table.c.status == status, calls), else_=0)), 0)

    return [
        func.sum(calls).label("calls"),
        of_status(UsageStatus.ERROR).label("errors"),
        of_status(UsageStatus.CANCELLED).label("cancelled"),
    ]


_SUM_NAMES = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost")


def _sums(table: Table) -> list[ColumnElement[Any]]:
    return [func.sum(table.c[name]).label(name) for name in _SUM_NAMES]


def _merged_histogram(column: str) -> ColumnElement[Any]:
    """The element-wise sum of the group's histograms (a dense bigint array)."""
    return literal_column(
        f"(SELECT array_agg(merged.n ORDER BY merged.slot) FROM (SELECT"
        f" (flat.o - 1) % {histogram.SIZE} AS slot, sum(flat.x) AS n"
        f" FROM unnest(array_agg(usage_rollups.{column})) WITH ORDINALITY AS flat(x, o)"
        " GROUP BY 1) AS merged)"
    )


def _bucket_list(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The 0-based histogram buckets of the group's values (nulls skipped)."""
    bucket = func.width_bucket(column, literal_column(histogram.sql_bounds())) - 1
    return func.array_agg(bucket).filter(column.is_not(None))


def _grouped(
    table: Table,
    time: ColumnElement[Any],
    span: SummaryRange,
    group_by: Sequence[GroupBy],
    measures: list[ColumnElement[Any]],
    where: list[ColumnElement[bool]],
) -> Select[Any]:
    keys: list[ColumnElement[Any]] = [_bucket(time, span).label("bucket")]
    keys += [table.c[group.value].label(group.name) for group in group_by]
    return select(*keys, *measures).where(*where).group_by(*keys)


def rollup_statement(
    span: SummaryRange,
    scope: UsageScope,
    filters: DimensionFilter,
    group_by: Sequence[GroupBy],
    percentiles: bool,
    windows: Sequence[Window],
) -> Select[Any] | None:
    """The whole hours of ``windows`` from the hourly rollups; None without a window."""
    if not windows:
        return None
    table = ROLLUPS
    measures = [*_counts(table, table.c.calls), *_sums(table)]
    measures.append(func.sum(table.c.latency_ms_sum).label("latency_ms_sum"))
    if percentiles:
        measures += [
            _merged_histogram("latency_hist").label("latency"),
            _merged_histogram("ttft_hist").label("ttft"),
        ]
    hour = table.c.hour
    within = or_(*(and_(hour >= low, hour < high) for low, high in windows))
    where = [within, *_where(table, scope, filters)]
    return _grouped(table, hour, span, group_by, measures, where)


def coarse_statement(
    table: Table,
    span: SummaryRange,
    scope: UsageScope,
    filters: DimensionFilter,
    group_by: Sequence[GroupBy],
    percentiles: bool,
    windows: Sequence[Window],
) -> Select[Any] | None:
    """The periods of ``windows`` from a daily or monthly rollup ``table``; None without a
    window. With percentiles, one row per rollup row (its histograms as stored: merging
    them in Python is cheaper than in SQL); else grouped by bucket and ``group_by``."""
    if not windows:
        return None
    period = table.c.period
    within = or_(*(and_(period >= low, period < high) for low, high in windows))
    where = [within, *_where(table, scope, filters)]
    counted = ("calls", "errors", "cancelled", "latency_ms_sum")
    if not percentiles:
        measures = [*(func.sum(table.c[name]).label(name) for name in counted), *_sums(table)]
        return _grouped(table, period, span, group_by, measures, where)
    keys: list[ColumnElement[Any]] = [_bucket(period, span).label("bucket")]
    keys += [table.c[group.value].label(group.name) for group in group_by]
    measures = [
        *(table.c[name] for name in (*counted, *_SUM_NAMES)),
        # As asyncpg decodes them: SQLAlchemy's ARRAY result processing copies each.
        type_coerce(table.c.latency_hist, NullType()).label("latency"),
        type_coerce(table.c.ttft_hist, NullType()).label("ttft"),
    ]
    return select(*keys, *measures).where(*where)


def edge_statement(
    span: SummaryRange,
    scope: UsageScope,
    filters: DimensionFilter,
    group_by: Sequence[GroupBy],
    percentiles: bool,
) -> Select[Any] | None:
    """The usage rows outside the whole hours (all of the range when it has none); None
    when the range is exactly whole hours."""
    table = LOGS
    created = table.c.created_at
    hours = span.whole_hours
    if hours is None:
        within: ColumnElement[bool] = and_(created >= span.start, created < span.end)
    elif hours == (span.start, span.end):
        return None
    else:
        within = or_(
            and_(created >= span.start, created < hours[0]) if span.start < hours[0] else false(),
            and_(created >= hours[1], created < span.end) if hours[1] < span.end else false(),
        )
    measures = [*_counts(table, literal_column("1")), *_sums(table)]
    measures.append(func.coalesce(func.sum(table.c.latency_ms), 0).label("latency_ms_sum"))
    if percentiles:
        measures += [
            _bucket_list(table.c.latency_ms).label("latency"),
            _bucket_list(table.c.time_to_first_token_ms).label("ttft"),
        ]
    where = [within, *_where(table, scope, filters)]
    return _grouped(table, created, span, group_by, measures, where)
