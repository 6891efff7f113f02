"""Process-wide pub/sub for realtime streams: ``Broadcaster`` and ``create_broadcaster``.

Wrap, not subclass. broadcaster 0.3.1's ``Broadcast`` has two races that lose or break
streams: its Redis backend reports a subscription ready before Redis has confirmed the
SUBSCRIBE, and concurrent first subscriptions to a channel overwrite each other's entry in
``Broadcast._subscribers``. Both live in the methods a subclass would have to replace
(``subscribe``, ``_listener``) and in private state, so :class:`Broadcaster` is our own
fan-out layer that drives transports written to broadcaster's ``BroadcastBackend``
contract: its ``MemoryBackend`` unchanged for ``memory://``, and our
:class:`~synapse_gql.realtime.redis_backend.RedisPubSubBackend` (one subscriber connection,
confirmed SUBSCRIBE/UNSUBSCRIBE, reconnection) for ``redis://``, ``rediss://``, ``unix://``.

How a channel is shared: one backend subscription per channel per process, whatever the
number of local subscribers. Subscribing and unsubscribing hold that channel's
``asyncio.Lock``, so the first subscriber subscribes the backend (and waits for the
confirmation) while concurrent ones wait for it, and the last one to leave unsubscribes.

Slow subscribers: each subscription buffers at most ``max_pending`` messages. The backend
hands every message it receives (in process: every message published) straight to
:meth:`Broadcaster._fan_out`, which offers it to each local subscriber without waiting: no
queue and no task switch per message. A subscriber whose buffer is full is dropped (its
iterator raises :class:`~synapse_gql.realtime.subscription.SubscriberOverflowError` after
its buffered messages), so one slow reader never holds up the others or the publisher.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from synapse_gql.realtime.backends import (
    Backend,
    BroadcasterClosedError,
    InMemoryBackend,
    create_backend,
)
from synapse_gql.realtime.subscription import Subscription

log = logging.getLogger(__name__)

MEMORY_URL = "memory://"
DEFAULT_MAX_PENDING = 1024


@dataclass(eq=False)
class _LocalChannel:
    """This process's subscribers of one channel and the lock that guards the set."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribers: set[Subscription] = field(default_factory=set)
    users: int = 0


class Broadcaster:
    """Publish to and subscribe to named channels, across processes when backed by Redis.

    ``connect()`` once at start-up, ``disconnect()`` at shutdown. Then::

        async with broadcaster.subscribe(channel) as subscription:
            async for message in subscription:
                ...

    Messages published after ``subscribe`` has entered its context are delivered, in
    publication order, to every subscriber of the channel.
    """

    def __init__(
        self,
        url: str = MEMORY_URL,
        *,
        max_pending: int = DEFAULT_MAX_PENDING,
        client_name: str | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.url = url
        self.max_pending = max_pending
        self._backend: Backend = create_backend(url, client_name=client_name)
        self._channels: dict[str, _LocalChannel] = {}
        self._connected = False
        self._closed = False

    @property
    def connected(self) -> bool:
        """True while the transport is connected (Redis: the subscriber connection)."""
        return self._backend.state.is_up

    @property
    def connection_epoch(self) -> int:
        """How many times the transport has (re)connected; see :meth:`wait_connected`."""
        return self._backend.state.epoch

    async def __aenter__(self) -> Broadcaster:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def connect(self) -> None:
        """Start the transport; what it receives is fanned out to local subscribers."""
        if self._closed:
            raise BroadcasterClosedError("a disconnected broadcaster cannot be reused")
        if self._connected:
            return
        self._backend.receiver = self._receive
        await self._backend.connect()
        self._connected = True

    async def disconnect(self) -> None:
        """Stop for good; open subscriptions end after their buffered messages."""
        if self._closed:
            return
        self._closed = True
        self._backend.receiver = None
        await self._backend.disconnect()
        for local in self._channels.values():
            for subscription in local.subscribers:
                subscription.close()

    async def wait_connected(self, newer_than: int = 0) -> int:
        """Wait for a connection with an epoch above ``newer_than`` and return its epoch.

        ``epoch = b.connection_epoch`` before a connection loss, then
        ``await b.wait_connected(newer_than=epoch)`` returns once the transport has
        reconnected and every active channel is subscribed again.
        """
        return await self._backend.state.wait_up(newer_than)

    async def ping(self) -> bool:
        """Readiness: True when connected and the transport answers."""
        if not self._connected or self._closed:
            return False
        return await self._backend.ping()

    async def publish(self, channel: str, message: str | bytes) -> None:
        """Send ``message`` (bytes must be UTF-8) to every subscriber of ``channel``."""
        self._require_open()
        text = message.decode("utf-8") if isinstance(message, bytes) else message
        await self._backend.publish(channel, text)

    async def publish_many(self, publications: Sequence[tuple[str, str | bytes]]) -> None:
        """:meth:`publish` each ``(channel, message)`` in order, at once (Redis: one
        pipelined round trip)."""
        self._require_open()
        texts = [
            (channel, message.decode("utf-8") if isinstance(message, bytes) else message)
            for channel, message in publications
        ]
        await self._backend.publish_many(texts)

    @property
    def in_process(self) -> bool:
        """True when messages only go to this process's subscribers (``memory://``), so
        :meth:`deliver_now` can hand them over."""
        return isinstance(self._backend, InMemoryBackend)

    def deliver_now(self, publications: Sequence[tuple[str, str]]) -> None:
        """Offer each ``(channel, message)`` to this process's subscribers at once, in
        order: :meth:`publish_many` without an await, for an :attr:`in_process` broadcaster."""
        self._require_open()
        if not self.in_process:
            raise RuntimeError("deliver_now needs an in-process broadcaster")
        for channel, message in publications:
            self._receive(channel, message)

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[Subscription]:
        """Context manager yielding a :class:`Subscription` to ``channel``.

        Entering returns once the subscription is live (for Redis: confirmed by the
        server); leaving unsubscribes, and the last local subscriber to leave unsubscribes
        the transport.
        """
        return self._subscription(channel)

    def subscriber_count(self, channel: str) -> int:
        """Local subscribers of ``channel`` in this process."""
        local = self._channels.get(channel)
        return len(local.subscribers) if local else 0

    @asynccontextmanager
    async def _subscription(self, channel: str) -> AsyncIterator[Subscription]:
        self._require_open()
        subscription = Subscription(channel, self.max_pending)
        try:
            await self._attach(subscription)
            yield subscription
        finally:
            await self._detach(subscription)

    async def _attach(self, subscription: Subscription) -> None:
        """Register ``subscription``; the channel's first subscriber subscribes the backend.

        Registered before the backend call, so a failure or cancellation there is undone by
        :meth:`_detach` like any other exit.
        """
        async with self._locked(subscription.channel) as local:
            local.subscribers.add(subscription)
            if len(local.subscribers) == 1:
                await self._backend.subscribe(subscription.channel)

    async def _detach(self, subscription: Subscription) -> None:
        """Unregister ``subscription``; the channel's last subscriber unsubscribes."""
        subscription.close()
        async with self._locked(subscription.channel) as local:
            if subscription not in local.subscribers:
                return
            local.subscribers.discard(subscription)
            if not local.subscribers and not self._closed:
                await self._backend.unsubscribe(subscription.channel)

    @asynccontextmanager
    async def _locked(self, channel: str) -> AsyncIterator[_LocalChannel]:
        """Hold ``channel``'s lock; forget the channel once nobody uses or awaits it."""
        local = self._channels.get(channel)
        if local is None:
            local = self._channels[channel] = _LocalChannel()
        local.users += 1
        try:
            async with local.lock:
                yield local
        finally:
            local.users -= 1
            if not local.users and not local.subscribers and self._channels.get(channel) is local:
                del self._channels[channel]

    def _receive(self, channel: str, message: str) -> None:
        """The backend's receiver: fan out, never raising into the transport."""
        if self._closed:
            return
        try:
            self._fan_out(channel, message)
        except Exception:
            log.exception("realtime: delivering a message of %r failed", channel)

    def _fan_out(self, channel: str, message: str) -> None:
        """Offer ``message`` to every local subscriber of ``channel`` without waiting."""
        local = self._channels.get(channel)
        if local is None:
            return
        # ``offer`` never changes the set (subscribers leave from their own tasks).
        for subscription in local.subscribers:
            if subscription.active and not subscription.offer(message):
                log.warning(
                    "realtime: dropped a subscriber of %r: %d messages unread",
                    channel,
                    subscription.pending,
                )

    def _require_open(self) -> None:
        if not self._connected or self._closed:
            raise BroadcasterClosedError("connect() the broadcaster first")


def create_broadcaster(
    redis_url: str | None,
    *,
    max_pending: int = DEFAULT_MAX_PENDING,
    client_name: str | None = None,
) -> Broadcaster:
    """A Redis-backed broadcaster for ``redis_url``, or an in-process one when it is None."""
    return Broadcaster(redis_url or MEMORY_URL, max_pending=max_pending, client_name=client_name)
