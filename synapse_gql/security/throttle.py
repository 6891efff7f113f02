"""Counters and limiters shared by every process: failed logins, registrations, API rates.

A :class:`CounterStore` keeps expiring counters and locks; :func:`create_counter_store`
gives one on Redis (``redis://``, ``rediss://``, ``unix://``) so that every process sees
the same counts, or in process memory when no Redis is configured. A :class:`Limiter`
applies one :class:`Limit` to any key (an email, an address, a token) on top of it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from synapse_gql.redis_clients import pooled_client

PREFIX = "synapse:throttle"


@dataclass(frozen=True)
class Taken:
    """The outcome of :meth:`CounterStore.take`: whether the amount was added, the total
    now in the window and the seconds until the window ends."""

    ok: bool
    used: int
    resets_in: float


class CounterStore(Protocol):
    """Expiring counters and flags by key."""

    async def increment(self, key: str, ttl: float) -> int:
        """Add one to ``key`` and return the count; a new count expires ``ttl`` seconds
        after its first hit (a fixed window)."""

    async def remaining(self, key: str) -> float:
        """Seconds until ``key`` expires; 0 when it does not exist."""

    async def put(self, key: str, ttl: float) -> None:
        """Set the flag ``key`` for ``ttl`` seconds (replacing its expiry)."""

    async def delete(self, *keys: str) -> None:
        """Forget ``keys``."""

    async def take(self, key: str, amount: int, maximum: int, ttl: float) -> Taken:
        """Add ``amount`` to ``key`` only if the total stays within ``maximum``, atomically;
        a new total expires ``ttl`` seconds after it was created (a fixed window)."""

    async def close(self) -> None:
        """Release connections."""


class MemoryCounterStore:
    """One process's counters; ``clock`` (monotonic seconds) can be replaced in tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, tuple[int, float]] = {}

    def _live(self, key: str) -> tuple[int, float] | None:
        entry = self._entries.get(key)
        if entry is not None and entry[1] <= self._clock():
            del self._entries[key]
            return None
        return entry

    async def increment(self, key: str, ttl: float) -> int:
        """Count one more hit in the window."""
        count, expires = self._live(key) or (0, self._clock() + ttl)
        self._entries[key] = (count + 1, expires)
        return count + 1

    async def remaining(self, key: str) -> float:
        """Seconds left, 0 when absent or expired."""
        entry = self._live(key)
        return 0.0 if entry is None else entry[1] - self._clock()

    async def put(self, key: str, ttl: float) -> None:
        """Set a flag that expires in ``ttl`` seconds."""
        self._entries[key] = (1, self._clock() + ttl)

    async def delete(self, *keys: str) -> None:
        """Drop keys."""
        for key in keys:
            self._entries.pop(key, None)

    async def take(self, key: str, amount: int, maximum: int, ttl: float) -> Taken:
        """Add ``amount`` when the window has room for it."""
        used, expires = self._live(key) or (0, self._clock() + ttl)
        ok = used + amount <= maximum
        if ok:
            used += amount
            self._entries[key] = (used, expires)
        return Taken(ok, used, expires - self._clock())

    async def close(self) -> None:
        """Forget everything."""
        self._entries.clear()


# INCR and the window's expiry in one atomic step, so a crash between them cannot leave a
# counter that never expires.
_INCREMENT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# Check and add in one step: two processes cannot both take the last points of a window.
_TAKE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[1])
local ok = 0
if used + amount <= tonumber(ARGV[2]) then
  used = redis.call('INCRBY', KEYS[1], amount)
  ok = 1
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  if ok == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  ttl = tonumber(ARGV[3])
end
return {ok, used, ttl}
"""


class RedisCounterStore:
    """Counters in Redis, shared by every process using the same server."""

    def __init__(self, url: str) -> None:
        self._redis: Redis = pooled_client(url, "synapse-gql-throttle")
        self._increment = self._redis.register_script(_INCREMENT)
        self._take = self._redis.register_script(_TAKE)

    async def increment(self, key: str, ttl: float) -> int:
        """``INCR`` with the window's expiry set on the first hit."""
        return int(await self._increment(keys=[key], args=[_ms(ttl)]))

    async def remaining(self, key: str) -> float:
        """``PTTL`` in seconds (0 when absent)."""
        ms = int(await self._redis.pttl(key))
        return max(ms, 0) / 1000

    async def put(self, key: str, ttl: float) -> None:
        """``SET key 1 PX ttl``."""
        await self._redis.set(key, 1, px=_ms(ttl))

    async def delete(self, *keys: str) -> None:
        """``DEL``."""
        if keys:
            await self._redis.delete(*keys)

    async def take(self, key: str, amount: int, maximum: int, ttl: float) -> Taken:
        """``INCRBY`` when the total stays within ``maximum`` (a Lua script)."""
        ok, used, ms = await self._take(keys=[key], args=[amount, maximum, _ms(ttl)])
        return Taken(bool(ok), int(used), int(ms) / 1000)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def create_counter_store(redis_url: str | None) -> CounterStore:
    """Redis when a URL is configured, else process memory."""
    return RedisCounterStore(redis_url) if redis_url else MemoryCounterStore()


@dataclass(frozen=True)
class Limit:
    """``max_hits`` in ``window`` seconds, then a lock of ``lock_seconds``.

    With ``backoff_seconds`` the hits before the lock already slow the key down: after
    hit n (n >= 2) the key waits ``backoff_seconds * 2 ** (n - 2)`` seconds (capped by the
    lock) before its next attempt.
    """

    name: str
    max_hits: int
    window: float
    lock_seconds: float
    backoff_seconds: float = 0.0

    def wait_after(self, hits: int) -> float:
        """Seconds a key waits after its ``hits``-th hit in the window (0: none)."""
        if hits >= self.max_hits:
            return self.lock_seconds
        if self.backoff_seconds <= 0 or hits < 2:
            return 0.0
        return min(self.backoff_seconds * 2 ** (hits - 2), self.lock_seconds)


class Limiter:
    """One :class:`Limit` over a :class:`CounterStore`, for any number of keys."""

    def __init__(self, store: CounterStore, limit: Limit) -> None:
        self.store = store
        self.limit = limit

    def _keys(self, key: str) -> tuple[str, str]:
        base = f"{PREFIX}:{self.limit.name}:{key}"
        return f"{base}:hits", f"{base}:wait"

    async def retry_after(self, key: str) -> int:
        """Whole seconds ``key`` must wait before its next attempt; 0 when it may go on."""
        return math.ceil(await self.store.remaining(self._keys(key)[1]))

    async def hit(self, key: str) -> int:
        """Count one hit of ``key``; the seconds it must now wait (0: none)."""
        hits_key, wait_key = self._keys(key)
        hits = await self.store.increment(hits_key, self.limit.window)
        wait = self.limit.wait_after(hits)
        if wait <= 0:
            return 0
        if hits >= self.limit.max_hits:
            # The lock replaces the window: after it the key starts again from zero.
            await self.store.delete(hits_key)
        await self.store.put(wait_key, wait)
        return math.ceil(wait)

    async def reset(self, key: str) -> None:
        """Forget ``key``'s hits and wait (e.g. after a successful login)."""
        await self.store.delete(*self._keys(key))
