"""Usage summaries: monthly and daily rollups for the whole months and days where they
suffice, hourly rollups for the other whole hours and usage rows for the edges, merged
into buckets of time and dimensions, with totals over the range."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Executable, Row

from synapse_gql.analytics import histogram
from synapse_gql.analytics.ranges import SummaryRange
from synapse_gql.analytics.summary_plan import plan
from synapse_gql.analytics.summary_sql import (
    DAILY,
    MONTHLY,
    DimensionFilter,
    GroupBy,
    UsageScope,
    coarse_statement,
    edge_statement,
    rollup_statement,
)

Fetch = Callable[[Executable], Awaitable[Sequence[Row[Any]]]]


def _merged(parts: list[Sequence[int]]) -> Sequence[int]:
    """The histograms of ``parts`` merged into one, which then replaces them (read only)."""
    if len(parts) != 1:
        merged = [sum(column) for column in zip(*parts, strict=True)] if parts else None
        parts[:] = [merged or histogram.empty()]
    return parts[0]


@dataclass
class Bucket:
    """The usage of one time bucket and one combination of the grouped dimensions.

    Histograms added are kept apart and merged when first read: one pass over all of
    them, column by column, is much cheaper than adding them one at a time."""

    start: datetime
    end: datetime
    keys: dict[GroupBy, Any] = field(default_factory=dict)
    calls: int = 0
    errors: int = 0
    cancelled: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_ms_sum: int = 0
    cost: Decimal = Decimal(0)
    latency_parts: list[Sequence[int]] = field(default_factory=list, repr=False)
    ttft_parts: list[Sequence[int]] = field(default_factory=list, repr=False)

    def add(self, row: Any, latency: Sequence[int] | None, ttft: Sequence[int] | None) -> None:
        """Add one grouped row (of any statement) and its histograms."""
        self.calls += int(row.calls or 0)
        self.errors += int(row.errors or 0)
        self.cancelled += int(row.cancelled or 0)
        self.input_tokens += int(row.input_tokens or 0)
        self.output_tokens += int(row.output_tokens or 0)
        self.cache_read_tokens += int(row.cache_read_tokens or 0)
        self.cache_write_tokens += int(row.cache_write_tokens or 0)
        self.latency_ms_sum += int(row.latency_ms_sum or 0)
        self.cost += row.cost or Decimal(0)
        if latency is not None:
            self.latency_parts.append(latency)
        if ttft is not None:
            self.ttft_parts.append(ttft)

    @property
    def latency(self) -> Sequence[int]:
        """The latency histogram of every call counted."""
        return _merged(self.latency_parts)

    @property
    def ttft(self) -> Sequence[int]:
        """The time-to-first-token histogram of every call counted."""
        return _merged(self.ttft_parts)

    @property
    def tokens(self) -> int:
        """Every token: uncached input, cache reads and writes, output."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def absorb(self, other: Bucket) -> None:
        """Add another bucket's figures (for totals)."""
        self.add(other, other.latency, other.ttft)


@dataclass
class Summary:
    """The buckets of a range, ordered by start then keys, and their totals."""

    buckets: list[Bucket]
    totals: Bucket


def _dense(values: Sequence[int] | None) -> list[int] | None:
    if values is None:
        return None
    return [int(v) for v in values]


def _as_stored(values: list[int] | None) -> list[int] | None:
    return values


def _from_list(values: Sequence[int] | None) -> list[int] | None:
    return None if values is None else histogram.of_buckets(values)


async def usage_summary(
    fetch: Fetch,
    span: SummaryRange,
    scope: UsageScope,
    filters: DimensionFilter,
    group_by: Sequence[GroupBy],
    *,
    percentiles: bool = True,
) -> Summary:
    """The summary of the usage ``scope`` and ``filters`` select over ``span``, one bucket
    per time bucket and value of ``group_by`` (four statements at most). Histograms are
    read only when ``percentiles``."""
    group_by = list(dict.fromkeys(group_by))
    merged: dict[tuple[Any, ...], Bucket] = {}
    sources = plan(span, scope, filters, group_by)
    args = (span, scope, filters, group_by, percentiles)
    statements = (
        (coarse_statement(MONTHLY, *args, sources.months), _as_stored),
        (coarse_statement(DAILY, *args, sources.days), _as_stored),
        (rollup_statement(*args, sources.hours), _dense),
        (edge_statement(*args), _from_list),
    )
    for statement, convert in statements:
        if statement is None:
            continue
        for row in await fetch(statement):
            key = (row.bucket, *(getattr(row, g.name) for g in group_by))
            bucket = merged.get(key)
            if bucket is None:
                start, end = span.bucket_bounds(row.bucket)
                keys = {g: getattr(row, g.name) for g in group_by}
                bucket = merged[key] = Bucket(start, end, keys)
            latency = convert(row.latency) if percentiles else None
            ttft = convert(row.ttft) if percentiles else None
            bucket.add(row, latency, ttft)
    buckets = [merged[key] for key in sorted(merged, key=_order)]
    return Summary(buckets, _totals(span, buckets))


SUMMED = (
    "calls",
    "errors",
    "cancelled",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "latency_ms_sum",
)


def _totals(span: SummaryRange, buckets: list[Bucket]) -> Bucket:
    """The bucket of the whole range: each figure summed over ``buckets`` in one pass,
    their histograms merged when first read."""
    totals = Bucket(span.start, span.end)
    for name in SUMMED:
        setattr(totals, name, sum(getattr(bucket, name) for bucket in buckets))
    totals.cost = sum((bucket.cost for bucket in buckets), Decimal(0))
    totals.latency_parts = [b.latency for b in buckets if b.latency_parts]
    totals.ttft_parts = [b.ttft for b in buckets if b.ttft_parts]
    return totals


def _order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return (key[0], *((value is None, str(value)) for value in key[1:]))
