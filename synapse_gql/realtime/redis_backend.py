"""Redis pub/sub backend: one subscriber connection, confirmed subscriptions, reconnection.

It replaces broadcaster 0.3.1's ``RedisBackend``, whose ``subscribe`` returns as soon as
SUBSCRIBE is written (a message published right after can be lost) and which never
reconnects. Here one task owns the subscriber connection and reads everything it receives:

* ``subscribe`` adds the channel to the wanted set, sends SUBSCRIBE and waits until that
  task reads Redis's ``subscribe`` confirmation;
* ``unsubscribe`` sends UNSUBSCRIBE and waits for its confirmation, so PUBSUB NUMSUB is
  already 0 when it returns;
* after a connection loss the task opens a new connection, subscribes every wanted channel
  again, waits for the confirmations and only then bumps the connection epoch
  (:class:`~synapse_gql.realtime.backends.ConnectionState`). Messages published while
  disconnected are lost (Redis pub/sub keeps nothing), but every stream goes on.

The caller (the broadcaster) serialises ``subscribe``/``unsubscribe`` of one channel.
Publishing uses the ordinary pooled client.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Sequence
from contextlib import suppress
from typing import Any
from urllib.parse import urlparse

from broadcaster import Event
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import RedisError

from synapse_gql.realtime.backends import BroadcasterClosedError, ConnectionState, Receiver

log = logging.getLogger(__name__)

DEFAULT_CLIENT_NAME = "synapse-gql-realtime"
OPEN_TIMEOUT_SECONDS = 10.0
PING_TIMEOUT_SECONDS = 2.0
RETRY_MIN_SECONDS = 0.05
RETRY_MAX_SECONDS = 5.0
_Key = tuple[str, str]


def _text(value: Any) -> str:
    """A reply element as text (Redis answers bytes)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, for the logs."""
    return f"{type(exc).__name__}: {exc}"


class RedisPubSubBackend:
    """The ``redis://``, ``rediss://`` and ``unix://`` transport (see the module docstring)."""

    def __init__(self, url: str, *, client_name: str | None = None) -> None:
        options: dict[str, Any] = {"socket_connect_timeout": OPEN_TIMEOUT_SECONDS}
        if urlparse(url).scheme != "unix":
            options["socket_keepalive"] = True
        self._client: Redis = Redis.from_url(
            url, client_name=client_name or DEFAULT_CLIENT_NAME, **options
        )
        self.state = ConnectionState()
        self.receiver: Receiver | None = None
        self._wanted: set[str] = set()
        self._waiters: dict[_Key, asyncio.Future[None]] = {}
        self._conn: AbstractConnection | None = None
        self._received: asyncio.Queue[Event] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._closed = False

    async def connect(self) -> None:
        """Start the subscriber task and wait for its first connection attempt.

        When Redis does not answer, this returns anyway (``ping`` is False) and the task
        keeps retrying; subscriptions made meanwhile complete once it is connected.
        """
        if self._reader is None:
            self._reader = asyncio.create_task(self._run(), name="synapse-realtime-redis")
        await self._first_attempt.wait()

    async def disconnect(self) -> None:
        """Stop the subscriber task and close every connection."""
        self._closed = True
        self.state.mark_closed()
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(BroadcasterClosedError("the broadcaster is disconnected"))
        await self._client.aclose()

    async def subscribe(self, channel: str) -> None:
        """Subscribe to ``channel`` and return once Redis has confirmed it."""
        if self._closed:
            raise BroadcasterClosedError("the broadcaster is disconnected")
        self._wanted.add(channel)
        await self._confirmed("subscribe", channel)

    async def unsubscribe(self, channel: str) -> None:
        """Unsubscribe from ``channel`` and return once Redis has confirmed it."""
        self._wanted.discard(channel)
        if self._closed or self._conn is None:
            return
        await self._confirmed("unsubscribe", channel)

    async def publish(self, channel: str, message: str) -> None:
        """PUBLISH on a pooled connection."""
        if self._closed:
            raise BroadcasterClosedError("the broadcaster is disconnected")
        await self._client.publish(channel, message)

    async def publish_many(self, publications: Sequence[tuple[str, str]]) -> None:
        """Every PUBLISH pipelined in one round trip on a pooled connection, in order."""
        if self._closed:
            raise BroadcasterClosedError("the broadcaster is disconnected")
        if not publications:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for channel, message in publications:
                pipe.publish(channel, message)
            await pipe.execute()

    async def next_published(self) -> Event:
        """The next message read from the subscriber connection."""
        return await self._received.get()

    async def ping(self) -> bool:
        """True when the subscriber connection is up and Redis answers PING."""
        if not self.state.is_up:
            return False
        try:
            async with asyncio.timeout(PING_TIMEOUT_SECONDS):
                return bool(await self._client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def _confirmed(self, kind: str, channel: str) -> None:
        """Send ``kind`` for ``channel`` (when connected) and wait for its confirmation."""
        key = (kind, channel)
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        try:
            await self._send(kind.upper(), channel)
            await waiter
        finally:
            if self._waiters.get(key) is waiter:
                del self._waiters[key]

    async def _send(self, *args: str) -> None:
        """Write a command on the subscriber connection; a failure is left to the reader.

        Without a live connection nothing is sent: the next (re)connection subscribes every
        wanted channel. Writing only to a connected socket also keeps redis-py from quietly
        reopening a connection nobody reads.
        """
        conn = self._conn
        if conn is None or not conn.is_connected:
            return
        try:
            await conn.send_command(*args, check_health=False)
        except (RedisError, OSError) as exc:
            log.debug("realtime: %s not sent (%s); the reconnection will redo it", args, exc)

    async def _run(self) -> None:
        """Connect, read until the connection fails, reconnect with a capped backoff."""
        delay = RETRY_MIN_SECONDS
        while True:
            try:
                conn, subscribed = await self._open()
            except Exception as exc:
                log.warning(
                    "realtime: Redis unavailable (%s); retrying in %.2fs", _describe(exc), delay
                )
                self._first_attempt.set()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                continue
            delay = RETRY_MIN_SECONDS
            self._first_attempt.set()
            try:
                await self._adopt(conn, subscribed)
                await self._read_forever(conn)
            except Exception as exc:
                log.warning(
                    "realtime: Redis subscriber connection lost (%s); reconnecting", _describe(exc)
                )
            finally:
                self._lost()
                await conn.disconnect(nowait=True)

    async def _open(self) -> tuple[AbstractConnection, set[str]]:
        """A new subscriber connection, subscribed to (and returned with) the wanted channels."""
        conn = self._client.connection_pool.make_connection()
        try:
            async with asyncio.timeout(OPEN_TIMEOUT_SECONDS):
                await conn.connect()
                channels = sorted(self._wanted)
                if channels:
                    await conn.send_command("SUBSCRIBE", *channels, check_health=False)
                    await self._read_confirmations(conn, len(channels))
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        return conn, set(channels)

    async def _read_confirmations(self, conn: AbstractConnection, count: int) -> None:
        """Read replies until ``count`` subscribe confirmations have arrived."""
        while count:
            if self._dispatch(await self._read(conn)) == "subscribe":
                count -= 1

    async def _adopt(self, conn: AbstractConnection, subscribed: set[str]) -> None:
        """Make ``conn`` current, then catch up with changes made while it was opening."""
        added = self._wanted - subscribed
        removed = subscribed - self._wanted
        self._conn = conn
        if added:
            await self._send("SUBSCRIBE", *sorted(added))
        if removed:
            await self._send("UNSUBSCRIBE", *sorted(removed))
        self.state.mark_up()

    async def _read_forever(self, conn: AbstractConnection) -> None:
        """Hand every reply of the subscriber connection to :meth:`_dispatch`."""
        while True:
            self._dispatch(await self._read(conn))

    @staticmethod
    async def _read(conn: AbstractConnection) -> Any:
        """The next reply, waiting as long as it takes."""
        return await conn.read_response(timeout=math.inf, push_request=True)

    def _dispatch(self, reply: Any) -> str | None:
        """Queue a published message or resolve a confirmation; return the reply kind."""
        if not isinstance(reply, list) or len(reply) < 2:
            return None
        kind, channel = _text(reply[0]), _text(reply[1])
        if kind == "message" and len(reply) >= 3:
            if self.receiver is not None:
                self.receiver(channel, _text(reply[2]))
            else:
                self._received.put_nowait(Event(channel=channel, message=_text(reply[2])))
        elif kind in ("subscribe", "unsubscribe"):
            waiter = self._waiters.pop((kind, channel), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        return kind

    def _lost(self) -> None:
        """Forget the dead connection; pending unsubscriptions are done with it."""
        self._conn = None
        self.state.mark_down()
        for (kind, _channel), waiter in list(self._waiters.items()):
            if kind == "unsubscribe" and not waiter.done():
                waiter.set_result(None)
