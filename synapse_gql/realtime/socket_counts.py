"""Counting open WebSockets per user and per client address, against a limit.

:class:`LocalCounts` counts in this process. :class:`RedisCounts` counts across every
process sharing a Redis: each socket is a member of a sorted set per key, scored with the
end of its lease; a live socket renews its lease, so the sockets of a process that died
stop counting once their lease runs out.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Protocol

from redis.asyncio import Redis

from synapse_gql.redis_clients import pooled_client

LEASE_SECONDS = 90.0
KEY_PREFIX = "synapse:sockets"


class SocketCounts(Protocol):
    """Where open sockets are counted."""

    async def add(self, key: str, socket_id: str, limit: int) -> bool:
        """Count ``socket_id`` under ``key`` unless ``limit`` sockets are there already."""
        ...

    async def renew(self, keys: list[str], socket_id: str) -> None:
        """Keep ``socket_id`` counted under ``keys``."""
        ...

    async def remove(self, key: str, socket_id: str) -> None:
        """Stop counting ``socket_id`` under ``key``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class LocalCounts:
    """Open sockets of this process."""

    def __init__(self) -> None:
        self._members: defaultdict[str, set[str]] = defaultdict(set)

    async def add(self, key: str, socket_id: str, limit: int) -> bool:
        members = self._members[key]
        if len(members) >= limit:
            return False
        members.add(socket_id)
        return True

    async def renew(self, keys: list[str], socket_id: str) -> None:
        return None

    async def remove(self, key: str, socket_id: str) -> None:
        members = self._members.get(key)
        if members is not None:
            members.discard(socket_id)
            if not members:
                del self._members[key]

    async def close(self) -> None:
        return None


class RedisCounts:
    """Open sockets of every process sharing ``url``'s Redis (see the module docstring)."""

    def __init__(self, url: str) -> None:
        self._redis: Redis = pooled_client(url, "synapse-gql-sockets")

    @staticmethod
    def _key(key: str) -> str:
        return f"{KEY_PREFIX}:{key}"

    async def add(self, key: str, socket_id: str, limit: int) -> bool:
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self._key(key), "-inf", now)
            pipe.zadd(self._key(key), {socket_id: now + LEASE_SECONDS})
            pipe.zcard(self._key(key))
            pipe.expire(self._key(key), int(LEASE_SECONDS) * 2)
            _, _, count, _ = await pipe.execute()
        if count > limit:
            # Added past the limit: take the entry back (two racing sockets may both be
            # refused at the edge, never both admitted).
            await self.remove(key, socket_id)
            return False
        return True

    async def renew(self, keys: list[str], socket_id: str) -> None:
        until = time.time() + LEASE_SECONDS
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zadd(self._key(key), {socket_id: until}, xx=True)
                pipe.expire(self._key(key), int(LEASE_SECONDS) * 2)
            await pipe.execute()

    async def remove(self, key: str, socket_id: str) -> None:
        await self._redis.zrem(self._key(key), socket_id)

    async def close(self) -> None:
        await self._redis.aclose()


def create_counts(redis_url: str | None) -> SocketCounts:
    """Counts shared through Redis when it is configured, else per process."""
    return RedisCounts(redis_url) if redis_url else LocalCounts()
