"""WebSocket subscribers of ``workspaceMetrics`` that sent the same document, operation
name and variables: each update is executed and encoded once for the group, and the same
payload is framed and queued on every subscriber's socket writer (the pieces of
``realtime.fanout``: its executors, ``Subscriber`` and ``SocketWriter``)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator

from graphql.execution import Executor

from synapse_gql.metrics.snapshot import MetricsWindow
from synapse_gql.metrics.ticker import MetricsTickers
from synapse_gql.metrics.types import WorkspaceMetricsType
from synapse_gql.realtime.fanout.payloads import GroupKey, encode_result, execute_event
from synapse_gql.realtime.fanout.subscriber import Subscriber

log = logging.getLogger(__name__)


class MetricsGroup:
    """One group's subscribers; ``payload`` is the latest update, encoded."""

    def __init__(
        self,
        groups: MetricsGroups,
        key: GroupKey,
        executor: Executor,
        workspace_id: uuid.UUID,
        window: MetricsWindow,
    ) -> None:
        self.groups = groups
        self.key = key
        self.executor = executor
        self.subscribers: set[Subscriber] = set()
        self.payload: str | None = None
        self.encodings = 0
        updates = groups.tickers.updates(workspace_id, window)
        self._task = asyncio.create_task(self._deliver(updates), name="synapse-metrics-group")

    def join(self, subscriber: Subscriber) -> None:
        """Add ``subscriber``; it gets the latest update at once when there is one."""
        self.subscribers.add(subscriber)
        if self.payload is not None:
            subscriber.send(self.payload)

    def leave(self, subscriber: Subscriber) -> None:
        """Remove ``subscriber``; the last one to leave stops the group."""
        self.subscribers.discard(subscriber)
        if not self.subscribers:
            self.groups.forget(self)
            self._task.cancel()

    async def _deliver(self, updates: AsyncIterator[WorkspaceMetricsType]) -> None:
        try:
            async for update in updates:
                result = await execute_event(self.executor, update)
                self.payload = payload = encode_result(result)
                self.encodings += 1
                for subscriber in self.subscribers:
                    subscriber.send(payload)
            ending = list(self.subscribers)
            for subscriber in ending:
                subscriber.finish()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("metrics: a subscriber group failed")
            for subscriber in list(self.subscribers):
                subscriber.fail(error)
        finally:
            self.groups.forget(self)


class MetricsGroups:
    """The groups of this process by group key."""

    def __init__(self, tickers: MetricsTickers[WorkspaceMetricsType]) -> None:
        self.tickers = tickers
        self.running: dict[GroupKey, MetricsGroup] = {}

    def join(
        self,
        key: GroupKey,
        executor: Executor,
        workspace_id: uuid.UUID,
        window: MetricsWindow,
        subscriber: Subscriber,
    ) -> MetricsGroup:
        """Add ``subscriber`` to its group, started when there is none."""
        group = self.running.get(key)
        if group is None:
            group = self.running[key] = MetricsGroup(self, key, executor, workspace_id, window)
        group.join(subscriber)
        return group

    def forget(self, group: MetricsGroup) -> None:
        """Start a new group for the next subscriber of ``group``'s key."""
        if self.running.get(group.key) is group:
            del self.running[group.key]
