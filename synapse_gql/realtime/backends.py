"""Transports behind :class:`~synapse_gql.realtime.broadcaster.Broadcaster`, chosen by URL.

Both follow broadcaster 0.3.1's ``BroadcastBackend`` contract (``connect``, ``disconnect``,
``subscribe``, ``unsubscribe``, ``publish``, ``next_published``) with a stronger promise for
``subscribe``: when it returns, messages published to the channel from then on are received.
They add ``ping`` and a :class:`ConnectionState` so callers can wait for (re)connections,
and a ``receiver``: once the broadcaster sets it, every message received is handed to it
at once (no queue, no task switch per message), and ``next_published`` is not used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol
from urllib.parse import urlparse

from broadcaster import Event
from broadcaster._backends.memory import MemoryBackend

MEMORY_SCHEMES = frozenset({"memory"})
# Called with (channel, message) for every message received.
Receiver = Callable[[str, str], None]
REDIS_SCHEMES = frozenset({"redis", "rediss", "unix"})


class BroadcasterClosedError(RuntimeError):
    """The broadcaster was disconnected (or never connected)."""


class ConnectionState:
    """Whether the transport is connected, and how many times it has connected (the epoch).

    The epoch grows by one on every successful (re)connection, so
    ``await state.wait_up(newer_than=epoch)`` waits for the reconnection that follows a loss.
    """

    def __init__(self) -> None:
        self._up = False
        self._closed = False
        self._epoch = 0
        self._changed = asyncio.Event()

    @property
    def is_up(self) -> bool:
        """True while connected."""
        return self._up

    @property
    def epoch(self) -> int:
        """Number of successful connections so far (0 before the first one)."""
        return self._epoch

    def mark_up(self) -> None:
        """Record a successful (re)connection."""
        self._up = True
        self._epoch += 1
        self._notify()

    def mark_down(self) -> None:
        """Record the loss of the connection."""
        self._up = False
        self._notify()

    def mark_closed(self) -> None:
        """Record a deliberate disconnection; waiters get :class:`BroadcasterClosedError`."""
        self._up = False
        self._closed = True
        self._notify()

    async def wait_up(self, newer_than: int = 0) -> int:
        """Wait until connected with an epoch above ``newer_than``; return that epoch."""
        while not (self._up and self._epoch > newer_than):
            if self._closed:
                raise BroadcasterClosedError("the broadcaster is disconnected")
            changed = self._changed
            await changed.wait()
        return self._epoch

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


class Backend(Protocol):
    """What the broadcaster needs from a transport."""

    state: ConnectionState
    receiver: Receiver | None

    async def connect(self) -> None:
        """Start the transport (a Redis backend keeps retrying in the background)."""

    async def disconnect(self) -> None:
        """Stop the transport for good."""

    async def subscribe(self, channel: str) -> None:
        """Return once messages published to ``channel`` from now on will be received."""

    async def unsubscribe(self, channel: str) -> None:
        """Stop receiving ``channel``."""

    async def publish(self, channel: str, message: str) -> None:
        """Send ``message`` to every subscriber of ``channel``."""

    async def publish_many(self, publications: Sequence[tuple[str, str]]) -> None:
        """:meth:`publish` each ``(channel, message)`` in order, at once."""

    async def next_published(self) -> Event:
        """The next message received on a subscribed channel."""

    async def ping(self) -> bool:
        """True when the transport is connected and answering."""


class InMemoryBackend(MemoryBackend):
    """broadcaster's single-process ``memory://`` backend, plus the connection state.

    Its ``subscribe`` only adds the channel to a set, so it is ready when it returns. With a
    ``receiver``, ``publish`` hands the message to it directly (the receiver knows the
    local subscribers), without going through the queue.
    """

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.state = ConnectionState()
        self.receiver: Receiver | None = None

    async def publish(self, channel: str, message: str) -> None:
        """Deliver ``message`` in this process."""
        if self.receiver is not None:
            self.receiver(channel, message)
        else:
            await super().publish(channel, message)

    async def publish_many(self, publications: Sequence[tuple[str, str]]) -> None:
        """Deliver each message in this process, in order."""
        for channel, message in publications:
            await self.publish(channel, message)

    async def connect(self) -> None:
        """Create the in-process queue and report the backend connected."""
        await super().connect()
        self.state.mark_up()

    async def disconnect(self) -> None:
        """Report the backend closed."""
        await super().disconnect()
        self.state.mark_closed()

    async def ping(self) -> bool:
        """True between ``connect`` and ``disconnect``."""
        return self.state.is_up


def create_backend(url: str, *, client_name: str | None = None) -> Backend:
    """The backend for ``url``: ``memory://``, ``redis://``, ``rediss://`` or ``unix://``."""
    scheme = urlparse(url).scheme
    if scheme in MEMORY_SCHEMES:
        return InMemoryBackend(url)
    if scheme in REDIS_SCHEMES:
        from synapse_gql.realtime.redis_backend import RedisPubSubBackend

        return RedisPubSubBackend(url, client_name=client_name)
    raise ValueError(f"unsupported realtime backend URL scheme: {scheme!r}")
