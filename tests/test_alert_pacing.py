"""When a process judges a provider's health: healthy calls on the pace, calls that could
breach a quiet rule at once, an outage once per pace after its episode opened."""

from __future__ import annotations

import uuid

from synapse_gql.alerts.pacing import HealthPacing
from synapse_gql.models import AlertKind

ERRORS = frozenset({AlertKind.PROVIDER_ERROR_RATE})
SLOW = frozenset({AlertKind.PROVIDER_LATENCY})
HEALTHY: frozenset[AlertKind] = frozenset()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_healthy_calls_of_a_pair_are_judged_once_per_pace() -> None:
    """Given a pace of 10 s, the first call of a pair is judged, the healthy calls of the
    next 10 s are not, the first one after them is; another pair has its own pace."""
    clock = Clock()
    pacing = HealthPacing(10, clock=clock)
    pair, other = (uuid.uuid4(), "openai"), (uuid.uuid4(), "openai")
    assert pacing.should_judge(pair, HEALTHY)
    pacing.judged(pair, HEALTHY)
    clock.now += 9.9
    assert not pacing.should_judge(pair, HEALTHY)
    assert pacing.should_judge(other, HEALTHY)
    clock.now += 0.1
    assert pacing.should_judge(pair, HEALTHY)
    assert not pacing.should_judge(pair, HEALTHY)  # the yes above started a new pace


def test_a_call_that_could_breach_a_quiet_rule_is_judged_at_once() -> None:
    """Given a pair just judged with nothing open, a failure and a slow call are judged at
    once; once the error-rate episode is open, failures wait for the pace but a slow call
    (its rule still quiet) does not; when the episode is resolved, failures count again."""
    clock = Clock()
    pacing = HealthPacing(10, clock=clock)
    pair = (uuid.uuid4(), "anthropic")
    assert pacing.should_judge(pair, HEALTHY)
    pacing.judged(pair, HEALTHY)
    assert pacing.should_judge(pair, ERRORS)
    pacing.judged(pair, ERRORS)
    clock.now += 1
    assert not pacing.should_judge(pair, ERRORS)
    assert not pacing.should_judge(pair, HEALTHY)
    assert pacing.should_judge(pair, SLOW)
    pacing.judged(pair, HEALTHY)
    assert pacing.should_judge(pair, ERRORS)


def test_no_pace_judges_every_call_and_the_memory_is_bounded() -> None:
    """Given a pace of 0, every call is judged; given room for two pairs, the least
    recently judged is forgotten and judged at its next call as new."""
    clock = Clock()
    every = HealthPacing(0, clock=clock)
    pair = (uuid.uuid4(), "mock")
    assert all(every.should_judge(pair, HEALTHY) for _ in range(3))

    small = HealthPacing(10, capacity=2, clock=clock)
    first, second, third = ((uuid.uuid4(), "mock") for _ in range(3))
    for judged in (first, second, third):
        assert small.should_judge(judged, HEALTHY)
    assert not small.should_judge(third, HEALTHY)
    assert small.should_judge(first, HEALTHY)
