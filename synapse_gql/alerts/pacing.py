"""How often a process judges one provider's health in one workspace.

Judging reads an aggregate over the window's calls (a 95th percentile among them), so its
cost grows with the traffic it judges: at 100 calls a second a 300-second window holds
30,000 calls, and judging after every call would sort them 100 times a second. A process
judges a (workspace, provider) pair after a call when:

* the pair was not judged in the last ``check_seconds`` (every call when 0), or
* the call itself could breach a rule (it failed, or it was slower than the latency
  threshold) and the pair's last judgement found no episode open for that rule.

So a failure or a slow call is judged at once while its rule is quiet, an outage costs one
judgement per ``check_seconds`` once its episode is open, and healthy traffic (which can
only clear a rule, or breach one by reaching the minimum number of calls) is judged at
most once per ``check_seconds``: an episode resolves, or one reached through the minimum,
opens, at most that much later than if every call were judged.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from synapse_gql.models import AlertKind

Pair = tuple[uuid.UUID, str]


@dataclass
class _Judged:
    due: float
    open_kinds: frozenset[AlertKind]


class HealthPacing:
    """The judgements of one process: when each pair is next due and what it found open.

    Remembers the ``capacity`` most recently judged pairs (the others are judged at their
    next call, as new). Not shared between processes: each judges on its own pace.
    """

    def __init__(
        self,
        check_seconds: float,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.check_seconds = check_seconds
        self._capacity = capacity
        self._clock = clock
        self._pairs: OrderedDict[Pair, _Judged] = OrderedDict()

    def should_judge(self, pair: Pair, could_breach: frozenset[AlertKind]) -> bool:
        """Whether a call of ``pair`` that could breach ``could_breach`` is judged now. A
        yes marks the pair judged from now on, so concurrent healthy calls do not all
        judge it."""
        if self.check_seconds <= 0:
            return True
        now = self._clock()
        last = self._pairs.get(pair)
        if last is not None and now < last.due and not could_breach - last.open_kinds:
            return False
        open_kinds = frozenset() if last is None else last.open_kinds
        self._remember(pair, _Judged(now + self.check_seconds, open_kinds))
        return True

    def judged(self, pair: Pair, open_kinds: frozenset[AlertKind]) -> None:
        """Record the episodes a judgement of ``pair`` left open."""
        if self.check_seconds <= 0:
            return
        last = self._pairs.get(pair)
        due = self._clock() + self.check_seconds if last is None else last.due
        self._remember(pair, _Judged(due, open_kinds))

    def _remember(self, pair: Pair, judged: _Judged) -> None:
        self._pairs[pair] = judged
        self._pairs.move_to_end(pair)
        while len(self._pairs) > self._capacity:
            self._pairs.popitem(last=False)
