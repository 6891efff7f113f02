"""Provider health rules: pure judgements of a window of one provider's calls.

A rule is *breached* when its measure reaches the threshold over at least the minimum
number of calls, *clear* when the measure is below the threshold (over any number of calls:
an episode ends even when traffic drops), and *undecided* otherwise.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from synapse_gql.config import Settings


@dataclass(frozen=True)
class HealthRules:
    """The window, the minimum number of calls, the thresholds and how often healthy
    traffic is judged (settings ``ALERT_*``; without settings every call is judged)."""

    window_seconds: int = 300
    min_calls: int = 20
    error_rate_percent: int = 25
    latency_p95_ms: int = 10_000
    check_seconds: float = 0.0

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthRules:
        return cls(
            window_seconds=settings.alert_window_seconds,
            min_calls=settings.alert_min_calls,
            error_rate_percent=settings.alert_error_rate_percent,
            latency_p95_ms=settings.alert_latency_p95_ms,
            check_seconds=settings.alert_check_seconds,
        )


@dataclass(frozen=True)
class WindowStats:
    """One provider's calls in a workspace over the window (cancelled calls left out).

    ``timed_calls`` are the successful calls with a latency; ``p95_latency_ms`` is the 95th
    percentile of their time to first token (total latency where none was recorded).
    """

    calls: int
    errors: int
    timed_calls: int
    p95_latency_ms: float | None


class Verdict(enum.Enum):
    BREACHED = "breached"
    CLEAR = "clear"
    UNDECIDED = "undecided"


def _judge(breached: bool, counted: int, rules: HealthRules) -> Verdict:
    if counted == 0:
        return Verdict.UNDECIDED
    if not breached:
        return Verdict.CLEAR
    return Verdict.BREACHED if counted >= rules.min_calls else Verdict.UNDECIDED


def error_rate_verdict(stats: WindowStats, rules: HealthRules) -> Verdict:
    """Breached when errors are at least ``error_rate_percent`` of the calls."""
    breached = stats.errors * 100 >= rules.error_rate_percent * stats.calls
    return _judge(breached, stats.calls, rules)


def latency_verdict(stats: WindowStats, rules: HealthRules) -> Verdict:
    """Breached when the p95 latency of the successful calls reaches ``latency_p95_ms``."""
    p95 = stats.p95_latency_ms
    if p95 is None:
        return Verdict.UNDECIDED
    return _judge(p95 >= rules.latency_p95_ms, stats.timed_calls, rules)


def error_rate_percent(stats: WindowStats) -> float:
    """The window's error rate in percent (0 without calls), rounded to one place."""
    return 0.0 if stats.calls == 0 else round(stats.errors * 100 / stats.calls, 1)
