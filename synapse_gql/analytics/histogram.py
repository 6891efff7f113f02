"""Log-spaced millisecond histograms: mergeable by adding counts element-wise.

Bucket ``i`` holds the integer milliseconds ``LOWER_BOUNDS[i] <= ms < LOWER_BOUNDS[i + 1]``
(the last bucket is open-ended). Below ``EXACT_BELOW`` (20 ms) every millisecond has its
own bucket; above, each bucket is at most ``GROWTH`` (10 %) wider than the previous one.
A percentile read from a histogram is the geometric middle of the bucket holding the exact
nearest-rank value, so it is within ``RELATIVE_ERROR`` (5 %) of it, up to
``LOWER_BOUNDS[-1]`` (10 minutes): slower calls all count in the last bucket.

In SQL the bucket of ``ms`` is ``width_bucket(ms, LOWER_BOUNDS)``: PostgreSQL's 1-based
array index of the same bucket (:func:`sql_bounds` renders the array).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from fractions import Fraction
from functools import cache
from itertools import accumulate

GROWTH = 1.1
MAX_MS = 600_000
EXACT_BELOW = 20
RELATIVE_ERROR = 0.05


def _lower_bounds() -> tuple[int, ...]:
    bounds = [0]
    while bounds[-1] < MAX_MS:
        last = bounds[-1]
        wider = math.floor(last * GROWTH) if last >= EXACT_BELOW else last + 1
        bounds.append(max(last + 1, wider))
    return tuple(bounds)


LOWER_BOUNDS: tuple[int, ...] = _lower_bounds()
SIZE = len(LOWER_BOUNDS)


def bucket_of(ms: int) -> int:
    """The 0-based bucket of a duration in milliseconds (negative counts as 0)."""
    return max(0, bisect_right(LOWER_BOUNDS, ms) - 1)


def empty() -> list[int]:
    """A histogram with no value."""
    return [0] * SIZE


def of(values: Iterable[int | None]) -> list[int]:
    """The histogram of ``values`` (``None`` skipped)."""
    hist = empty()
    for value in values:
        if value is not None:
            hist[bucket_of(value)] += 1
    return hist


def merge(left: Sequence[int], right: Sequence[int]) -> list[int]:
    """The histogram of both histograms' values."""
    return [a + b for a, b in zip(left, right, strict=True)]


def representative(bucket: int) -> int:
    """The value reported for a bucket: the geometric middle of its integer values."""
    low = LOWER_BOUNDS[bucket]
    if bucket + 1 == SIZE or low == 0:
        return low
    high = LOWER_BOUNDS[bucket + 1] - 1
    return round(math.sqrt(low * high))


REPRESENTATIVES: tuple[int, ...] = tuple(representative(b) for b in range(SIZE))


def percentile(hist: Sequence[int], q: float) -> int | None:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of the histogram's values, ``None``
    when it is empty; within ``RELATIVE_ERROR`` of SQL's ``percentile_disc(q)``."""
    return percentiles(hist, (q,))[0]


def percentiles(hist: Sequence[int], qs: Sequence[float]) -> list[int | None]:
    """:func:`percentile` of each of ``qs``, summing the histogram once."""
    cumulative = list(accumulate(hist))
    total = cumulative[-1] if cumulative else 0
    if total == 0:
        return [None] * len(qs)
    last = SIZE - 1
    found: list[int | None] = []
    for q in qs:
        numerator, denominator = _ratio(q)
        rank = max(1, -(-numerator * total // denominator))
        found.append(REPRESENTATIVES[min(bisect_left(cumulative, rank), last)])
    return found


@cache
def _ratio(q: float) -> tuple[int, int]:
    """``q`` as the exact fraction of its decimal text (0.95 is 19/20, not the float's)."""
    exact = Fraction(str(q))
    return exact.numerator, exact.denominator


def sql_bounds() -> str:
    """The bounds as a PostgreSQL integer array literal, for ``width_bucket``."""
    return "ARRAY[" + ",".join(str(b) for b in LOWER_BOUNDS) + "]::int[]"


def of_buckets(buckets: Iterable[int]) -> list[int]:
    """The histogram counting one value in each of ``buckets`` (0-based bucket numbers)."""
    hist = empty()
    for bucket in buckets:
        hist[bucket] += 1
    return hist
