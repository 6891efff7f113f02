"""Counters and limiters: the same behaviour in memory and on a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from synapse_gql.security.throttle import (
    CounterStore,
    Limit,
    Limiter,
    MemoryCounterStore,
    RedisCounterStore,
    create_counter_store,
)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
async def store(request, redis_url: str) -> AsyncIterator[CounterStore]:
    backend: CounterStore = (
        MemoryCounterStore() if request.param == "memory" else RedisCounterStore(redis_url)
    )
    yield backend
    await backend.close()


def fresh(name: str) -> str:
    """A key no other test (or earlier run against the same Redis) has used."""
    return f"{name}-{uuid.uuid4().hex}"


async def test_increment_counts_within_the_window(store: CounterStore) -> None:
    """Given a new key, when it is hit three times, then the counts are 1, 2, 3 and the key
    expires within its window."""
    key = fresh("hits")
    assert [await store.increment(key, 60) for _ in range(3)] == [1, 2, 3]
    assert 0 < await store.remaining(key) <= 60
    assert await store.remaining(fresh("absent")) == 0


async def test_put_and_delete_a_flag(store: CounterStore) -> None:
    """Given a flag set for 30 s, then it has up to 30 s left; deleted, it has none."""
    key = fresh("flag")
    await store.put(key, 30)
    assert 0 < await store.remaining(key) <= 30
    await store.delete(key)
    assert await store.remaining(key) == 0


async def test_limiter_locks_after_max_hits_and_reset_unlocks(store: CounterStore) -> None:
    """Given a limit of 3 hits then a 120 s lock, when a key is hit 3 times, then the first
    two hits leave it free, the third locks it for 120 s, other keys stay free, and a reset
    frees it."""
    limiter = Limiter(store, Limit(fresh("login"), max_hits=3, window=60, lock_seconds=120))
    assert [await limiter.hit("a") for _ in range(2)] == [0, 0]
    assert await limiter.retry_after("a") == 0
    assert await limiter.hit("a") == 120
    assert 0 < await limiter.retry_after("a") <= 120
    assert await limiter.retry_after("b") == 0
    await limiter.reset("a")
    assert await limiter.retry_after("a") == 0


async def test_limiter_backs_off_before_the_lock(store: CounterStore) -> None:
    """Given a backoff of 2 s and a lock at 5 hits, then hits 1..5 make the key wait
    0, 2, 4, 8 s and then the lock's 300 s."""
    limit = Limit(fresh("backoff"), max_hits=5, window=600, lock_seconds=300, backoff_seconds=2)
    limiter = Limiter(store, limit)
    assert [await limiter.hit("k") for _ in range(5)] == [0, 2, 4, 8, 300]


async def test_a_lock_starts_a_new_window(store: CounterStore) -> None:
    """Given a key locked after 2 hits, when the lock is lifted, then the next hit counts
    from one again (it is not locked at once)."""
    limiter = Limiter(store, Limit(fresh("window"), max_hits=2, window=600, lock_seconds=60))
    assert [await limiter.hit("k") for _ in range(2)] == [0, 60]
    await store.delete(f"synapse:throttle:{limiter.limit.name}:k:wait")
    assert await limiter.hit("k") == 0


def test_memory_counters_expire_with_the_clock() -> None:
    """Given a memory store on a hand-moved clock, when the window passes, then the count
    starts again at one and the flag is gone."""
    import asyncio

    clock = Clock()
    store = MemoryCounterStore(clock)

    async def run() -> list[int]:
        counts = [await store.increment("k", 10), await store.increment("k", 10)]
        await store.put("flag", 5)
        clock.now += 10
        counts.append(await store.increment("k", 10))
        counts.append(int(await store.remaining("flag")))
        return counts

    assert asyncio.run(run()) == [1, 2, 1, 0]


async def test_two_redis_stores_share_counts(redis_url: str) -> None:
    """Given two stores on the same Redis (two processes), when each hits one key, then the
    other sees the count and the lock."""
    first, second = create_counter_store(redis_url), create_counter_store(redis_url)
    try:
        limit = Limit(fresh("shared"), max_hits=2, window=60, lock_seconds=90)
        assert await Limiter(first, limit).hit("k") == 0
        assert await Limiter(second, limit).hit("k") == 90
        assert 0 < await Limiter(first, limit).retry_after("k") <= 90
    finally:
        await first.close()
        await second.close()


def test_without_redis_the_store_is_in_memory() -> None:
    """Given no Redis URL, then the store is the in-process one."""
    assert isinstance(create_counter_store(None), MemoryCounterStore)
