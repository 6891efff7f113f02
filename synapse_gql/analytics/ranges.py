"""Time ranges of usage summaries: validation, calendar buckets (UTC) and the split into
whole hours (read from the rollups) and edges (read from the usage rows)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from synapse_gql.errors import InvalidInput

MAX_RANGE = timedelta(days=3660)
MAX_BUCKETS = 1000
DEFAULT_RANGE = timedelta(days=30)


class Granularity(enum.Enum):
    """The length of a summary's time buckets (calendar units in UTC; weeks start Monday)."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


_FIXED = {
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(days=1),
    Granularity.WEEK: timedelta(weeks=1),
}


def truncate(moment: datetime, granularity: Granularity) -> datetime:
    """The start of the bucket holding ``moment`` (PostgreSQL's ``date_trunc`` in UTC)."""
    moment = moment.astimezone(UTC)
    if granularity is Granularity.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity is Granularity.DAY:
        return day
    if granularity is Granularity.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_start(start: datetime, granularity: Granularity) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    if granularity is not Granularity.MONTH:
        return start + _FIXED[granularity]
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


@dataclass(frozen=True)
class SummaryRange:
    """``start <= created_at < end``, bucketed by ``granularity``."""

    start: datetime
    end: datetime
    granularity: Granularity

    @property
    def whole_hours(self) -> tuple[datetime, datetime] | None:
        """The whole hours inside the range (rollups serve them), None when there is none."""
        first = truncate(self.start, Granularity.HOUR)
        if first < self.start:
            first += timedelta(hours=1)
        last = truncate(self.end, Granularity.HOUR)
        return (first, last) if first < last else None

    def bucket_bounds(self, bucket: datetime) -> tuple[datetime, datetime]:
        """The part of a calendar bucket inside the range."""
        return max(bucket, self.start), min(next_start(bucket, self.granularity), self.end)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def summary_range(
    start: datetime | None,
    end: datetime | None,
    granularity: Granularity,
    *,
    path: tuple[str, ...] = ("filter",),
) -> SummaryRange:
    """Validate a range: INVALID_INPUT when ``from`` is not before ``to``, when it spans
    more than ``MAX_RANGE`` or when ``granularity`` would make more than ``MAX_BUCKETS``
    buckets. ``to`` defaults to now, ``from`` to 30 days before ``to``."""
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - DEFAULT_RANGE
    if start >= end:
        raise InvalidInput("`from` must be before `to`.", field=[*path, "from"])
    if end - start > MAX_RANGE:
        raise InvalidInput(f"The range is longer than {MAX_RANGE.days} days.", field=[*path, "to"])
    count, bucket = 0, truncate(start, granularity)
    while bucket < end:
        count += 1
        if count > MAX_BUCKETS:
            raise InvalidInput(
                f"{granularity.name} buckets are too fine for this range (more than"
                f" {MAX_BUCKETS}); choose a coarser granularity.",
                field=["granularity"],
            )
        bucket = next_start(bucket, granularity)
    return SummaryRange(start, end, granularity)
