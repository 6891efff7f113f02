"""One answer's feed in this process: one channel subscription, one cursor, every item
seen so far kept in memory, and the groups of subscribers it is delivered to.

The feed reads like a subscriber that started at sequence 0 (``chat.streams``): it
subscribes to the answer's channel, reads the delta log, then takes live deltas, filling
gaps from the log, until the answer's end; a live delta that continues the stream is
taken and delivered as it is published, without waiting for the reader's task. A
subscriber joining late replays the items from memory, then follows live; it considers
each item once, in order, and skips the deltas at or below its ``afterSequence``. An
ended feed stays ``RETAIN_SECONDS`` for subscribers that arrive just after the end; one
that broke is dropped at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from functools import partial
from typing import TYPE_CHECKING

from graphql.execution import Executor

from synapse_gql.chat.streams import AnswerDelta, AnswerStream, StreamItem, fresh_message
from synapse_gql.models import MessageStatus
from synapse_gql.realtime.channels import message_channel
from synapse_gql.realtime.events import DeltaEvent, FinishedEvent, decode_delta
from synapse_gql.realtime.fanout.groups import EventGroup
from synapse_gql.realtime.fanout.payloads import GroupKey, failure_payload
from synapse_gql.realtime.fanout.subscriber import Subscriber
from synapse_gql.realtime.subscription import Subscription, typed

if TYPE_CHECKING:
    from synapse_gql.realtime.fanout.hub import FeedHub

log = logging.getLogger(__name__)

# How long an ended feed still serves new subscribers from memory.
RETAIN_SECONDS = 10.0


class AnswerFeed:
    """The shared stream of the answer ``message_id`` (see the module docstring)."""

    def __init__(self, hub: FeedHub, message_id: uuid.UUID) -> None:
        self.hub = hub
        self.message_id = message_id
        self._message_text = str(message_id)
        self.items: list[StreamItem] = []
        self.ended = False
        self.failure: Exception | None = None
        self.groups: dict[GroupKey, EventGroup] = {}
        self._changed = asyncio.Event()
        self._retained = False
        self._expiry: asyncio.TimerHandle | None = None
        self._reader = asyncio.create_task(self._read(), name="synapse-feed-reader")
        self._dispatcher = asyncio.create_task(self._dispatch(), name="synapse-feed-dispatch")

    @property
    def subscriber_count(self) -> int:
        """Subscribers currently served."""
        return sum(len(group.subscribers) for group in self.groups.values())

    def join(self, key: GroupKey, executor: Executor, subscriber: Subscriber) -> None:
        """Serve ``subscriber`` in the group ``key`` from the first item on."""
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = EventGroup(self, executor)
        group.subscribers.append(subscriber)
        self._changed.set()

    def leave(self, key: GroupKey, subscriber: Subscriber) -> None:
        """Stop serving ``subscriber``; the last one to leave a running feed stops it (an
        ended feed stays for late subscribers ``RETAIN_SECONDS``)."""
        group = self.groups.get(key)
        if group is not None and subscriber in group.subscribers:
            group.subscribers.remove(subscriber)
        if not self.subscriber_count and not self._retained:
            self.stop()

    def stop(self) -> None:
        """Stop reading and delivering; the hub forgets the feed."""
        self.hub.forget(self)
        if self._expiry is not None:
            self._expiry.cancel()
        self._reader.cancel()
        self._dispatcher.cancel()

    def _extend(self, items: list[StreamItem]) -> None:
        """Keep ``items`` and deliver them: deltas at once where a group can (see
        ``EventGroup.deliver_now``), the rest from the dispatcher."""
        if items:
            self.items.extend(items)
            delivered = [self._deliver_now(group) for group in list(self.groups.values())]
            if not all(delivered):
                self._changed.set()

    def _end(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.ended = True
        self._changed.set()
        if failure is not None:
            self.hub.forget(self)  # the next subscriber starts a new feed from the log
            return
        self._retained = True
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(RETAIN_SECONDS, self._expire)

    def _expire(self) -> None:
        self._retained = False
        self.hub.forget(self)
        if not self.subscriber_count:
            self.stop()

    async def _read(self) -> None:
        try:
            await self._follow()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("realtime: the feed of %s broke", self.message_id, exc_info=True)
            self._end(error)
        else:
            self._end()

    async def _follow(self) -> None:
        state, message_id = self.hub.state, self.message_id
        stream = AnswerStream(state, message_id)
        kinds = (DeltaEvent, FinishedEvent)
        async with state.realtime.subscribe(message_channel(message_id)) as subscription:
            events = typed(subscription, kinds)
            self._extend([AnswerDelta(message_id, d) for d in await stream.catch_up()])
            current = await fresh_message(state, message_id)
            if current is None:
                return
            if current.status is not MessageStatus.STREAMING:
                self._extend(await stream.end(current))
                return
            subscription.listener = partial(self._hear, subscription, stream)
            async for event in events:
                if isinstance(event, DeltaEvent) and event.message_id == message_id:
                    live = await stream.live(event.delta)
                    self._extend([AnswerDelta(message_id, d) for d in live])
                elif isinstance(event, FinishedEvent) and event.message_id == message_id:
                    finished = await fresh_message(state, message_id)
                    if finished is not None:
                        self._extend(await stream.end(finished))
                        return

    def _hear(self, subscription: Subscription, stream: AnswerStream) -> None:
        """Take a live delta as it is published, when the reader waits for it and it
        continues the stream (no gap to fill from the log); else the reader takes it."""
        try:
            payload = subscription.alone()
            if payload is None:
                return
            # Written by this server's pump (``encode_delta``): the message id as
            # ``str(uuid)``; any other spelling is left to the reader.
            found = decode_delta(payload)
            if found is None or found[0] != self._message_text:
                return
            taken = stream.live_now(found[1])
            if taken is None:
                return
            subscription.take_buffered()
        except Exception:  # left in the buffer: the reader takes it
            log.warning(
                "realtime: the feed of %s left a delta to its reader",
                self.message_id,
                exc_info=True,
            )
            return
        self._extend([AnswerDelta(self.message_id, delta) for delta in taken])

    async def _dispatch(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            for group in list(self.groups.values()):
                await self._deliver(group)

    async def _deliver(self, group: EventGroup) -> None:
        try:
            await group.deliver()
        except Exception as error:
            self._fail(group, error)

    def _deliver_now(self, group: EventGroup) -> bool:
        try:
            return group.deliver_now()
        except Exception as error:
            self._fail(group, error)
            return True

    def _fail(self, group: EventGroup, error: Exception) -> None:
        """End every subscriber of ``group`` with the masked ``error``."""
        log.error("realtime: delivering %s failed", self.message_id, exc_info=True)
        payload = failure_payload(error)
        for subscriber in list(group.subscribers):
            if subscriber.active:
                subscriber.send(payload)
                subscriber.finish()
