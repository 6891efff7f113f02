"""One local subscriber's view of a channel: a bounded buffer read as an async iterator;
and :func:`subscribe`, the one way features read a channel: as typed events."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

from synapse_gql.realtime.events import decode

if TYPE_CHECKING:
    from synapse_gql.realtime.broadcaster import Broadcaster

E = TypeVar("E")


class SubscriberOverflowError(Exception):
    """The subscriber fell ``maxsize`` messages behind and was dropped from its channel.

    Raised by the subscriber's iterator once the messages it had buffered are consumed:
    the stream has a gap from that point on, so it ends with this error instead of going on.
    """

    def __init__(self, channel: str, maxsize: int) -> None:
        super().__init__(
            f"subscriber of {channel!r} fell {maxsize} messages behind and was dropped; "
            "later messages of the channel were not delivered to it"
        )
        self.channel = channel
        self.maxsize = maxsize


class Subscription:
    """Messages (``str``) of one channel for one local subscriber, in publication order.

    ``async for message in subscription`` yields them; iteration ends when the broadcaster
    disconnects and raises :class:`SubscriberOverflowError` when this subscriber was too slow.
    Only one task should iterate a subscription.
    """

    def __init__(self, channel: str, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.channel = channel
        self.maxsize = maxsize
        self._buffer: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._error: SubscriberOverflowError | None = None
        self._closed = False
        self._reader_waits = False  # the iterating task awaits the next message
        # Called (without arguments) whenever a message arrives or the subscription ends,
        # for a reader that waits on several sources at once, or one that takes a message
        # at once (see :meth:`alone`).
        self.listener: Callable[[], None] | None = None

    @property
    def active(self) -> bool:
        """True while the subscription still accepts messages."""
        return self._error is None and not self._closed

    @property
    def pending(self) -> int:
        """Messages received and not read yet."""
        return len(self._buffer)

    def offer(self, message: str) -> bool:
        """Buffer ``message`` without waiting; False when the subscription is not active.

        A full buffer drops the subscriber (see :class:`SubscriberOverflowError`): the
        broadcaster never waits for one slow reader, so the others are not held up.
        """
        if not self.active:
            return False
        if len(self._buffer) >= self.maxsize:
            self._error = SubscriberOverflowError(self.channel, self.maxsize)
            self._notify()
            return False
        self._buffer.append(message)
        self._notify()
        return True

    def close(self) -> None:
        """End the iteration once the buffered messages are read."""
        self._closed = True
        self._notify()

    def take_buffered(self) -> list[str]:
        """The messages buffered now, removed, without waiting (for a ``listener``)."""
        taken = list(self._buffer)
        self._buffer.clear()
        return taken

    def alone(self) -> str | None:
        """The message just buffered when it is the only one and the iterating task waits
        for it (it has read every earlier one), else None: a ``listener`` may then handle
        it at once, and :meth:`take_buffered` it, without reordering anything."""
        if self._reader_waits and len(self._buffer) == 1:
            return self._buffer[0]
        return None

    @property
    def error(self) -> SubscriberOverflowError | None:
        """Why the subscription was dropped, if it was."""
        return self._error

    def _notify(self) -> None:
        try:
            if self.listener is not None:
                self.listener()
        finally:
            if self._buffer or not self.active:  # else the listener took the message
                self._wakeup.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> str:
        while True:
            if self._buffer:
                return self._buffer.popleft()
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            self._reader_waits = True
            try:
                await self._wakeup.wait()
            finally:
                self._reader_waits = False


async def typed(
    subscription: Subscription, kind: type[E] | tuple[type[E], ...]
) -> AsyncIterator[E]:
    """The events of type ``kind`` (a class or a tuple of classes) read from
    ``subscription``; malformed payloads and other types are skipped."""
    async for payload in subscription:
        event = decode(payload)
        if isinstance(event, kind):
            yield event


@asynccontextmanager
async def subscribe(
    broadcaster: Broadcaster, channel: str, kind: type[E] | tuple[type[E], ...]
) -> AsyncIterator[AsyncIterator[E]]:
    """Subscribe to ``channel`` (live once entered) and read its events of type ``kind``
    (a class or a tuple of classes); malformed payloads and other types are skipped."""
    async with broadcaster.subscribe(channel) as subscription:
        yield typed(subscription, kind)
