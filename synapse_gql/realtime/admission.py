"""Admission of subscription set-ups: a bounded number at once, the rest queued.

A subscription's set-up (its access check at subscribe time) takes a database connection
for one small query. A thousand clients subscribing at once would ask the pool for a
thousand connections and wait there, up to the pool's timeout, for what the pool cannot
give. :func:`subscribe_slot` lets ``Settings.max_concurrent_subscribe`` set-ups run at once
in a process (by default ``db_pool_size``: half the pool, the rest stays free for queries,
mutations and answers); the others wait their turn in arrival order. Past
``subscribe_queue_limit`` waiting, or past ``subscribe_timeout_seconds`` from arrival to the
end of the set-up (a pool checkout included), the subscription is refused with
``TRY_AGAIN``: the client retries shortly; it never sees a pool timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from synapse_gql.errors import TryAgain

if TYPE_CHECKING:
    from synapse_gql.config import Settings
    from synapse_gql.state import AppState

QUEUE_FULL = "Too many subscriptions are starting at once; try again in a moment."
TOO_SLOW = "The server is busy and could not start the subscription in time; try again."


class SubscribeAdmission:
    """At most ``limit`` holders at once; others wait first come, first served (at most
    ``queue_limit`` of them), and each holder's turn, waiting included, ends within
    ``timeout`` seconds or is refused with :class:`~synapse_gql.errors.TryAgain`."""

    def __init__(self, limit: int, queue_limit: int, timeout: float) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.queue_limit = queue_limit
        self.timeout = timeout
        self.running = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @classmethod
    def from_settings(cls, settings: Settings) -> SubscribeAdmission:
        limit = settings.max_concurrent_subscribe or settings.db_pool_size
        return cls(limit, settings.subscribe_queue_limit, settings.subscribe_timeout_seconds)

    @property
    def waiting(self) -> int:
        """Set-ups waiting for their turn."""
        return len(self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Run the block as one of the ``limit`` set-ups; see the class docstring."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._acquire()
                try:
                    yield
                finally:
                    self._release()
        except (TimeoutError, PoolTimeoutError):
            raise TryAgain(TOO_SLOW) from None

    async def _acquire(self) -> None:
        if self.running < self.limit and not self._waiters:
            self.running += 1
            return
        if len(self._waiters) >= self.queue_limit:
            raise TryAgain(QUEUE_FULL)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed a turn while giving up: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def _release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the turn passes on; ``running`` stays the same
                return
        self.running -= 1


def admission_of(state: AppState) -> SubscribeAdmission:
    """The process's admission of subscription set-ups (made on first use)."""
    if state.subscribe_admission is None:
        state.subscribe_admission = SubscribeAdmission.from_settings(state.settings)
    return state.subscribe_admission


def subscribe_slot(state: AppState) -> contextlib.AbstractAsyncContextManager[None]:
    """Enter before a subscription's set-up: waits for a turn (first come, first served),
    refuses with ``TryAgain`` (code ``TRY_AGAIN``) when the queue is full or the set-up,
    waiting included, takes longer than ``subscribe_timeout_seconds``."""
    return admission_of(state).slot()
