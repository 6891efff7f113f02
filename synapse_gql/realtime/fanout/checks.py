"""Access checks at subscribe time, one query for a burst of identical ones.

A thousand clients of one viewer subscribing to one answer at once ask the same question.
Subscribers asking the same (viewer, answer) question wait for the next check to start:
checks of one key run one after another, and each answers every subscriber that was
waiting when it started. A subscriber is counted by its viewer's access watch before it
waits, so no check it shares started before it could hear access news. (Callers hold an
admission slot, ``realtime.admission``, while they wait; the check itself takes none.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

Check = Callable[[], Awaitable[Any]]


class _Key:
    """The checks of one key: the waiters of the next one, and whether one runs."""

    def __init__(self) -> None:
        self.next: asyncio.Future[Any] | None = None
        self.check: Check | None = None
        self.running: asyncio.Task[None] | None = None


class SharedChecks:
    """Runs each key's checks one after another, each shared by those waiting for it."""

    def __init__(self) -> None:
        self.runs = 0
        self._keys: dict[Hashable, _Key] = {}

    async def run(self, key: Hashable, check: Check) -> Any:
        """The outcome (value or exception) of the next check of ``key``; ``check`` runs
        it when no waiter before this one supplied theirs."""
        entry = self._keys.get(key)
        if entry is None:
            entry = self._keys[key] = _Key()
        if entry.next is None:
            entry.next = asyncio.get_running_loop().create_future()
            entry.check = check
        waiting = entry.next
        if entry.running is None:
            entry.running = asyncio.create_task(self._drive(key, entry))
        return await asyncio.shield(waiting)

    async def _drive(self, key: Hashable, entry: _Key) -> None:
        try:
            while entry.next is not None and entry.check is not None:
                outcome, check = entry.next, entry.check
                entry.next = entry.check = None
                self.runs += 1
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
        finally:
            entry.running = None
            if entry.next is None and self._keys.get(key) is entry:
                del self._keys[key]
