"""Rights re-checked while subscriptions run, as ``realtime.access`` does for the others:
one channel subscription per viewer per process, shared by the viewer's hub subscribers;
on access news each of them runs its own check (only then; checks of one key share a query,
``checks``) and a refused one ends with ``SubscriptionRefused``. :meth:`ViewerWatches.epoch`
changes with every news a viewer's watch hears (and with a new watch)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Hashable

from synapse_gql.errors import DomainError
from synapse_gql.realtime.admission import subscribe_slot
from synapse_gql.realtime.broadcaster import Broadcaster
from synapse_gql.realtime.channels import user_access_channel
from synapse_gql.realtime.events import AccessChangedEvent
from synapse_gql.realtime.fanout.subscriber import Subscriber
from synapse_gql.realtime.subscription import subscribe

log = logging.getLogger(__name__)

_serials = itertools.count(1)


class ViewerWatch:
    """The access news of one user, and the hub subscribers it concerns."""

    def __init__(self, realtime: Broadcaster, user_id: uuid.UUID) -> None:
        self.subscribers: set[Subscriber] = set()
        self.serial = next(_serials)
        self.news = 0  # access news heard so far
        self._listening = asyncio.Event()
        self._task = asyncio.create_task(self._listen(realtime, user_id))
        self._task.add_done_callback(_retrieve)

    @property
    def alive(self) -> bool:
        return not self._task.done()

    async def ready(self) -> None:
        """Return once news is heard (raises when the channel could not be joined)."""
        if self._listening.is_set():
            return
        waiter = asyncio.ensure_future(self._listening.wait())
        await asyncio.wait({self._task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        if not self._listening.is_set():
            self._task.result()
            raise RuntimeError("the access channel closed")

    def stop(self) -> None:
        self._task.cancel()

    async def _listen(self, realtime: Broadcaster, user_id: uuid.UUID) -> None:
        async with subscribe(realtime, user_access_channel(user_id), AccessChangedEvent) as news:
            self._listening.set()
            async for _ in news:
                self.news += 1
                for subscriber in list(self.subscribers):
                    if subscriber.active:
                        await recheck(subscriber)


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("realtime: an access watch ended: %s", task.exception())


async def recheck(subscriber: Subscriber) -> None:
    """Run the subscriber's access check with fresh loaders; a refusal ends it."""
    subscriber.context.refresh_loaders()  # roles cached by the loaders may be stale now
    try:
        async with subscribe_slot(subscriber.context.state):  # news reaches many at once
            await subscriber.check()
    except DomainError as error:
        await subscriber.refuse(error)
    except Exception as error:
        log.error("realtime: re-checking a subscription failed", exc_info=True)
        subscriber.fail(error)


class ViewerWatches:
    """The watches of this process, by user."""

    def __init__(self, realtime: Broadcaster) -> None:
        self.realtime = realtime
        self._watches: dict[uuid.UUID, ViewerWatch] = {}

    async def enter(self, user_id: uuid.UUID, subscriber: Subscriber) -> None:
        """Count ``subscriber`` under ``user_id`` once the user's news is heard."""
        watch = self._watches.get(user_id)
        if watch is None or not watch.alive:
            watch = self._watches[user_id] = ViewerWatch(self.realtime, user_id)
        watch.subscribers.add(subscriber)
        try:
            await watch.ready()
        except BaseException:
            self.leave(user_id, subscriber)
            raise

    def epoch(self, user_id: uuid.UUID) -> Hashable:
        """Changes whenever ``user_id``'s watch hears access news, or is replaced."""
        watch = self._watches.get(user_id)
        if watch is None or not watch.alive:
            return None
        return watch.serial, watch.news

    def leave(self, user_id: uuid.UUID, subscriber: Subscriber) -> None:
        watch = self._watches.get(user_id)
        if watch is None:
            return
        watch.subscribers.discard(subscriber)
        if not watch.subscribers:
            watch.stop()
            del self._watches[user_id]

    def close(self) -> None:
        """Stop every watch."""
        for watch in self._watches.values():
            watch.stop()
        self._watches.clear()
