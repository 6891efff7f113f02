"""Helpers of tests/test_realtime.py: reading subscriptions and looking at Redis directly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis

from synapse_gql.realtime import Subscription

# Only keeps a broken test from hanging the run; no assertion depends on timing.
HANG_GUARD_SECONDS = 15


def fresh_channel() -> str:
    """A channel name no other test uses."""
    return f"synapse:test:{uuid.uuid4()}"


def fresh_client_name() -> str:
    """A Redis client name that singles out one broadcaster's connections."""
    return f"synapse-test-{uuid.uuid4().hex}"


async def receive(subscription: Subscription, count: int) -> list[str]:
    """The next ``count`` messages of ``subscription``."""
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        return [await anext(subscription) for _ in range(count)]


async def rest_of(subscription: Subscription) -> list[str]:
    """Every message until the subscription ends (or raises)."""
    async with asyncio.timeout(HANG_GUARD_SECONDS):
        return [message async for message in subscription]


@asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[Redis]:
    """A plain redis-py client, closed afterwards."""
    client = Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


async def numsub(url: str, channel: str) -> int:
    """PUBSUB NUMSUB of ``channel``: subscribed connections, all processes together."""
    async with redis_client(url) as client:
        [(_name, count)] = await client.pubsub_numsub(channel)
        return int(count)


async def kill_pubsub_connections(url: str, client_name: str) -> int:
    """CLIENT KILL TYPE pubsub for the connections named ``client_name``; return how many."""
    killed = 0
    async with redis_client(url) as client:
        for info in await client.client_list(_type="pubsub"):
            if info.get("name") == client_name:
                killed += await client.client_kill_filter(_id=info["id"], _type="pubsub")
    return killed


class HeldConfirmationRedis:
    """A minimal RESP2 server that confirms SUBSCRIBE only once ``confirm`` is set.

    It answers just what a subscriber needs (the connection handshake, SUBSCRIBE,
    UNSUBSCRIBE, PING), so a test can observe a subscription before Redis confirms it.
    """

    def __init__(self) -> None:
        self.confirm = asyncio.Event()
        self.subscribe_seen = asyncio.Event()
        self.subscribe_commands = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"redis://{host}:{port}/0"

    async def __aenter__(self) -> HeldConfirmationRedis:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.confirm.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while command := await _read_command(reader):
                writer.write(await self._answer(command))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, command: list[bytes]) -> bytes:
        name, channels = command[0].upper(), command[1:]
        if name == b"SUBSCRIBE":
            self.subscribe_commands += 1
            self.subscribe_seen.set()
            await self.confirm.wait()
        if name in (b"SUBSCRIBE", b"UNSUBSCRIBE"):
            kind = name.lower()
            return b"".join(_push(kind, channel, 1) for channel in channels)
        return b"+PONG\r\n" if name == b"PING" else b"+OK\r\n"


async def _read_command(reader: asyncio.StreamReader) -> list[bytes]:
    """One RESP array of bulk strings; empty at the end of the stream."""
    header = await reader.readline()
    if not header:
        return []
    parts = []
    for _ in range(int(header[1:])):
        size = int((await reader.readline())[1:])
        parts.append((await reader.readexactly(size + 2))[:-2])
    return parts


def _push(kind: bytes, channel: bytes, count: int) -> bytes:
    """A ``subscribe``/``unsubscribe`` confirmation."""
    return b"*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n:%d\r\n" % (
        len(kind),
        kind,
        len(channel),
        channel,
        count,
    )
