"""Invoice periods: calendar months in UTC, named ``YYYY-MM``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from synapse_gql.errors import InvalidInput

PERIOD_PATH = ["input", "period"]
PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")


@dataclass(frozen=True)
class Period:
    """One calendar month, UTC: ``start`` inclusive, ``end`` exclusive."""

    start: datetime
    end: datetime

    @property
    def name(self) -> str:
        return name_of(self.start)


def name_of(start: datetime) -> str:
    """``YYYY-MM`` of the month that contains ``start`` (UTC)."""
    return start.astimezone(UTC).strftime("%Y-%m")


def month_after(start: datetime) -> datetime:
    """The first instant of the month after ``start``."""
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


def parse_period(text: str, now: datetime) -> Period:
    """The month ``text`` names; INVALID_INPUT on ``input.period`` when it is malformed or
    has not begun yet (the current month may be invoiced, as a draft of it so far)."""
    match = PATTERN.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1970:
        raise InvalidInput(
            f"{text!r} is not a period: write a calendar month as YYYY-MM, e.g. 2026-11.",
            field=PERIOD_PATH,
        )
    start = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
    if start > now:
        raise InvalidInput(f"The period {text} has not begun yet.", field=PERIOD_PATH)
    return Period(start, month_after(start))
