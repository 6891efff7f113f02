"""Access checks at subscribe time, one query for a burst of identical ones.

A thousand clients of one viewer subscribing to one answer at once ask the same question.
Subscribers asking the same (viewer, answer) question wait for the next check to start:
checks of one key run one after another, and each answers every subscriber that was
waiting when it started. A subscriber is counted by its viewer's access watch before it
waits, so no check it shares started before it could hear access news. (Callers hold an
admission slot, ``realtime.admission``, while they wait; the check itself takes none.)

A check that passed also answers the subscribers of its key that come after it, for
``REUSE_SECONDS``, as long as the viewer's access news heard since the check started is
none: ``epoch`` (the viewer's watch and the count of news it has heard, ``watches``) is the
same as when the check started. Those subscribers are in the watch already, so news that
arrives later re-checks them like the others. A burst of subscribes spread over a second
then costs one query, not one per gap between them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

Check = Callable[[], Awaitable[Any]]
Epoch = Callable[[], Hashable]

# How long a passed check answers later subscribers of its key (no access news since).
REUSE_SECONDS = 1.0
REMEMBERED = 4096


class _Key:
    """The checks of one key: the waiters of the next one, and whether one runs."""

    def __init__(self) -> None:
        self.next: asyncio.Future[Any] | None = None
        self.check: Check | None = None
        self.epoch: Epoch | None = None
        self.running: asyncio.Task[None] | None = None


class _Passed:
    """A check that passed: the viewer's epoch when it started, when it ended, its value."""

    __slots__ = ("at", "epoch", "value")

    def __init__(self, epoch: Hashable, at: float, value: Any) -> None:
        self.epoch, self.at, self.value = epoch, at, value


class SharedChecks:
    """Runs each key's checks one after another, each shared by those waiting for it."""

    def __init__(self) -> None:
        self.runs = 0
        self._keys: dict[Hashable, _Key] = {}
        self._passed: dict[Hashable, _Passed] = {}

    async def run(self, key: Hashable, check: Check, epoch: Epoch) -> Any:
        """The outcome (value or exception) of the next check of ``key``; ``check`` runs
        it when no waiter before this one supplied theirs. A check of ``key`` that passed
        less than ``REUSE_SECONDS`` ago, at the same ``epoch()``, answers at once."""
        passed = self._passed.get(key)
        if passed is not None:
            fresh = asyncio.get_running_loop().time() - passed.at < REUSE_SECONDS
            if fresh and passed.epoch == epoch():
                return passed.value
            del self._passed[key]
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = _Key()
        if entry.next is None:
            entry.next = asyncio.get_running_loop().create_future()
            entry.check, entry.epoch = check, epoch
        waiting = entry.next
        if entry.running is None:
            entry.running = asyncio.create_task(self._drive(key, entry))
        return await asyncio.shield(waiting)

    async def _drive(self, key: Hashable, entry: _Key) -> None:
        try:
            while entry.next is not None and entry.check is not None:
                outcome, check, epoch = entry.next, entry.check, entry.epoch
                entry.next = entry.check = entry.epoch = None
                self.runs += 1
                started = epoch() if epoch is not None else None
                try:
                    result = await check()
                except asyncio.CancelledError:
                    outcome.cancel()
                    raise
                except Exception as error:
                    outcome.set_exception(error)
                    outcome.exception()  # retrieved: its waiters may all have gone
                else:
                    outcome.set_result(result)
                    if started is not None:
                        self._remember(key, started, result)
        finally:
            entry.running = None
            if entry.next is None and self._keys.get(key) is entry:
                del self._keys[key]

    def _remember(self, key: Hashable, epoch: Hashable, value: Any) -> None:
        if len(self._passed) >= REMEMBERED:
            self._passed.clear()  # a burst of distinct keys: start over
        self._passed[key] = _Passed(epoch, asyncio.get_running_loop().time(), value)
