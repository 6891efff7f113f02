"""One ticker per workspace and window per process, shared by its local subscribers.

A ticker subscribes to the workspace's metrics channel (across processes through Redis
when configured): every message there (a usage row committed) marks it dirty. It then
computes the figures with one statement (:func:`~.snapshot.compute_snapshot`) at most once
per ``MIN_INTERVAL_SECONDS``, and, when they changed, renders the update once and hands the
same value to every local subscriber. Every ``SWEEP_SECONDS`` without news it computes
again, for what changes without a usage row: answers starting to stream, calls leaving the
sliding window. It stops when its last subscriber leaves.

Each update carries the ticker's ``sequence`` (1 for its first snapshot, then one more per
update): a subscriber sees consecutive numbers from the snapshot it joined on, unless it
fell ``BUFFERED_UPDATES`` behind (the oldest are dropped; the gap shows in the numbers).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.metrics.snapshot import Figures, MetricsWindow, Snapshot, compute_snapshot
from synapse_gql.realtime import Broadcaster, Subscription, workspace_metrics_channel

log = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 1.0
SWEEP_SECONDS = 5.0
BUFFERED_UPDATES = 16

V = TypeVar("V")
Render = Callable[[int, MetricsWindow, Snapshot], V]
TickerKey = tuple[uuid.UUID, MetricsWindow]


class MetricsInbox(Generic[V]):
    """One subscriber's updates, read as an async iterator; ends when the ticker ends and
    raises the ticker's error when it failed."""

    def __init__(self) -> None:
        self._updates: deque[V] = deque(maxlen=BUFFERED_UPDATES)
        self._wakeup = asyncio.Event()
        self._ended = False
        self._error: Exception | None = None

    def put(self, update: V) -> None:
        """Queue ``update`` without waiting (the oldest goes when the inbox is full)."""
        self._updates.append(update)
        self._wakeup.set()

    def end(self, error: Exception | None = None) -> None:
        """No more updates after the queued ones (then ``error``, if any)."""
        self._ended, self._error = True, error
        self._wakeup.set()

    def __aiter__(self) -> MetricsInbox[V]:
        return self

    async def __anext__(self) -> V:
        while not self._updates:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._updates.popleft()


class MetricsTicker(Generic[V]):
    """The live figures of one workspace over one window for this process's subscribers."""

    def __init__(
        self,
        tickers: MetricsTickers[V],
        workspace_id: uuid.UUID,
        window: MetricsWindow,
    ) -> None:
        self.tickers = tickers
        self.key: TickerKey = (workspace_id, window)
        self.inboxes: set[MetricsInbox[V]] = set()
        self.sequence = 0
        self.latest: V | None = None
        self.computations = 0
        self._figures: Figures | None = None
        self._dirty = asyncio.Event()
        self._closed = False
        self._last_computed = 0.0
        self._task = asyncio.create_task(self._run(), name="synapse-metrics-ticker")

    def join(self, inbox: MetricsInbox[V]) -> None:
        """Add a subscriber; it starts from the latest update when there is one."""
        self.inboxes.add(inbox)
        if self.latest is not None:
            inbox.put(self.latest)

    def leave(self, inbox: MetricsInbox[V]) -> None:
        """Remove a subscriber; the last one to leave stops the ticker."""
        self.inboxes.discard(inbox)
        if not self.inboxes:
            self.stop()

    def stop(self) -> None:
        """Stop computing and forget this ticker (the next subscriber starts a new one)."""
        self.tickers.forget(self)
        self._task.cancel()

    async def _run(self) -> None:
        workspace_id, _ = self.key
        broadcaster = self.tickers.broadcaster
        try:
            async with broadcaster.subscribe(workspace_metrics_channel(workspace_id)) as heard:
                heard.listener = lambda: self._heard(heard)
                await self._compute()
                while not self._closed:
                    await self._next_change()
                    if not self._closed:
                        await self._compute()
            self._end(None)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("metrics: the ticker of workspace %s failed", workspace_id)
            self._end(error)

    def _heard(self, heard: Subscription) -> None:
        """A message (or the channel's end): the figures may have changed."""
        heard.take_buffered()
        if not heard.active:
            self._closed = True
        self._dirty.set()

    async def _next_change(self) -> None:
        """Wait for news or the sweep, then for the rest of the minimum interval."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._dirty.wait(), SWEEP_SECONDS)
        loop = asyncio.get_running_loop()
        rest = self._last_computed + MIN_INTERVAL_SECONDS - loop.time()
        if rest > 0:
            await asyncio.sleep(rest)
        self._dirty.clear()

    async def _compute(self) -> None:
        """Compute the figures; when they changed, render and hand out one update."""
        self._last_computed = asyncio.get_running_loop().time()
        workspace_id, window = self.key
        snapshot = await compute_snapshot(self.tickers.engine, workspace_id, window)
        self.computations += 1
        if snapshot.figures == self._figures:
            return
        self._figures = snapshot.figures
        self.sequence += 1
        self.latest = update = self.tickers.render(self.sequence, window, snapshot)
        for inbox in self.inboxes:
            inbox.put(update)

    def _end(self, error: Exception | None) -> None:
        self.tickers.forget(self)
        for inbox in self.inboxes:
            inbox.end(error)


class MetricsTickers(Generic[V]):
    """This process's tickers by workspace and window."""

    def __init__(self, engine: AsyncEngine, broadcaster: Broadcaster, render: Render[V]) -> None:
        self.engine = engine
        self.broadcaster = broadcaster
        self.render = render
        self.running: dict[TickerKey, MetricsTicker[V]] = {}

    async def updates(self, workspace_id: uuid.UUID, window: MetricsWindow) -> AsyncIterator[V]:
        """The workspace's snapshot, then its updates, for as long as the caller reads."""
        ticker = self.running.get((workspace_id, window))
        if ticker is None:
            ticker = self.running[(workspace_id, window)] = MetricsTicker(
                self, workspace_id, window
            )
        inbox: MetricsInbox[V] = MetricsInbox()
        ticker.join(inbox)
        try:
            async for update in inbox:
                yield update
        finally:
            ticker.leave(inbox)

    def forget(self, ticker: MetricsTicker[V]) -> None:
        """Drop ``ticker`` from the running ones (it stopped or ended)."""
        if self.running.get(ticker.key) is ticker:
            del self.running[ticker.key]
