"""The realtime layer on the in-process backend and on a real Redis.

Every test parametrized by ``backend_url`` runs on both; the cross-process, NUMSUB and
connection-loss tests need Redis. Assertions are on counts and contents, never on time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from sqlalchemy import select

from synapse_gql.db import Database
from synapse_gql.models.accounts import User
from synapse_gql.realtime import (
    AfterCommitPublisher,
    Broadcaster,
    BroadcasterClosedError,
    SubscriberOverflowError,
    conversation_channel,
    create_broadcaster,
    message_channel,
    workspace_metrics_channel,
)
from tests.live import free_port
from tests.realtime_helpers import (
    HeldConfirmationRedis,
    fresh_channel,
    fresh_client_name,
    kill_pubsub_connections,
    numsub,
    receive,
    rest_of,
)

OpenBroadcaster = Callable[..., Awaitable[Broadcaster]]


@pytest.fixture(params=["memory", "redis"])
def backend_url(request: pytest.FixtureRequest) -> str:
    """``memory://`` or the test Redis."""
    if request.param == "memory":
        return "memory://"
    return request.getfixturevalue("redis_url")


@pytest.fixture
async def open_broadcaster() -> AsyncIterator[OpenBroadcaster]:
    """``await open_broadcaster(url, **options)``: a connected broadcaster, closed after."""
    opened: list[Broadcaster] = []

    async def open_(url: str, **options: Any) -> Broadcaster:
        options.setdefault("client_name", fresh_client_name())
        broadcaster = Broadcaster(url, **options)
        await broadcaster.connect()
        opened.append(broadcaster)
        return broadcaster

    yield open_
    for broadcaster in opened:
        await broadcaster.disconnect()


@pytest.fixture
async def broadcaster(backend_url: str, open_broadcaster: OpenBroadcaster) -> Broadcaster:
    return await open_broadcaster(backend_url)


async def test_round_trip(broadcaster: Broadcaster) -> None:
    channel = fresh_channel()
    assert await broadcaster.ping()
    async with broadcaster.subscribe(channel) as subscription:
        await broadcaster.publish(channel, "hello")
        await broadcaster.publish(channel, "wörld".encode())
        assert await receive(subscription, 2) == ["hello", "wörld"]
        assert subscription.channel == channel


async def test_order_is_preserved_for_500_messages(broadcaster: Broadcaster) -> None:
    channel = fresh_channel()
    sent = [f"token-{i}" for i in range(500)]
    async with broadcaster.subscribe(channel) as subscription:
        for message in sent:
            await broadcaster.publish(channel, message)
        assert await receive(subscription, 500) == sent


async def test_publish_right_after_subscribe_is_never_lost(broadcaster: Broadcaster) -> None:
    received = []
    for i in range(100):
        channel = fresh_channel()
        async with broadcaster.subscribe(channel) as subscription:
            await broadcaster.publish(channel, f"first-{i}")
            received += await receive(subscription, 1)
    assert received == [f"first-{i}" for i in range(100)]


async def test_subscribe_returns_only_once_redis_confirmed(
    open_broadcaster: OpenBroadcaster,
) -> None:
    channel = fresh_channel()
    async with HeldConfirmationRedis() as redis, AsyncExitStack() as stack:
        broadcaster = await open_broadcaster(redis.url)
        entering = [
            asyncio.create_task(stack.enter_async_context(broadcaster.subscribe(channel)))
            for _ in range(20)
        ]
        await redis.subscribe_seen.wait()
        assert [task.done() for task in entering] == [False] * 20
        redis.confirm.set()
        subscriptions = await asyncio.gather(*entering)
        assert [s.channel for s in subscriptions] == [channel] * 20
        assert redis.subscribe_commands == 1


async def test_concurrent_first_subscriptions_all_receive(broadcaster: Broadcaster) -> None:
    channel = fresh_channel()
    async with AsyncExitStack() as stack:
        subscriptions = await asyncio.gather(
            *(stack.enter_async_context(broadcaster.subscribe(channel)) for _ in range(20))
        )
        assert broadcaster.subscriber_count(channel) == 20
        await broadcaster.publish(channel, "to all")
        results = await asyncio.gather(*(receive(s, 1) for s in subscriptions))
    assert results == [["to all"]] * 20
    assert broadcaster.subscriber_count(channel) == 0


async def test_subscribers_only_get_their_channel(broadcaster: Broadcaster) -> None:
    first, second = fresh_channel(), fresh_channel()
    async with broadcaster.subscribe(first) as one, broadcaster.subscribe(second) as two:
        await broadcaster.publish(second, "for two")
        await broadcaster.publish(first, "for one")
        assert await receive(one, 1) == ["for one"]
        assert await receive(two, 1) == ["for two"]


async def test_channel_works_again_after_everyone_left(broadcaster: Broadcaster) -> None:
    channel = fresh_channel()
    async with broadcaster.subscribe(channel) as subscription:
        await broadcaster.publish(channel, "before")
        assert await receive(subscription, 1) == ["before"]
    assert broadcaster.subscriber_count(channel) == 0
    async with broadcaster.subscribe(channel) as subscription:
        await broadcaster.publish(channel, "after")
        assert await receive(subscription, 1) == ["after"]


async def test_slow_subscriber_is_dropped_without_holding_up_others(
    backend_url: str, open_broadcaster: OpenBroadcaster
) -> None:
    broadcaster = await open_broadcaster(backend_url, max_pending=3)
    channel = fresh_channel()
    async with broadcaster.subscribe(channel) as slow, broadcaster.subscribe(channel) as fast:
        for i in range(6):
            await broadcaster.publish(channel, str(i))
            assert await receive(fast, 1) == [str(i)]
        assert slow.pending == 3
        assert not slow.active
        assert await receive(slow, 3) == ["0", "1", "2"]
        with pytest.raises(SubscriberOverflowError, match="fell 3 messages behind"):
            await rest_of(slow)


async def test_disconnect_ends_subscriptions(broadcaster: Broadcaster) -> None:
    channel = fresh_channel()
    async with broadcaster.subscribe(channel) as subscription:
        await broadcaster.publish(channel, "last")
        assert await receive(subscription, 1) == ["last"]
        await broadcaster.disconnect()
        assert await rest_of(subscription) == []
        assert not await broadcaster.ping()
        with pytest.raises(BroadcasterClosedError):
            await broadcaster.publish(channel, "too late")


async def test_after_commit_publishes_committed_events_only(
    broadcaster: Broadcaster, database_url: str
) -> None:
    db = Database(database_url)
    publisher = AfterCommitPublisher(broadcaster)
    channel = fresh_channel()
    try:
        async with broadcaster.subscribe(channel) as subscription:
            async with db.transaction() as session:
                session.add(_user("committed"))
                publisher.publish(session, channel, "committed")
            await publisher.drain()
            assert await receive(subscription, 1) == ["committed"]

            with pytest.raises(RuntimeError, match="abort"):
                await _write_then_fail(db, publisher, channel)
            await publisher.drain()
            assert publisher.in_flight == 0
            await broadcaster.publish(channel, "marker")
            assert await receive(subscription, 1) == ["marker"]
        assert await _user_names(db) == {"committed"}
    finally:
        await db.dispose()


async def test_after_commit_follows_savepoints(broadcaster: Broadcaster, database_url: str) -> None:
    db = Database(database_url)
    publisher = AfterCommitPublisher(broadcaster)
    channel = fresh_channel()
    try:
        async with broadcaster.subscribe(channel) as subscription:
            async with db.transaction() as session:
                publisher.publish(session, channel, "outer")
                async with session.begin_nested():
                    publisher.publish(session, channel, "released savepoint")
                savepoint = await session.begin_nested()
                publisher.publish(session, channel, "rolled-back savepoint")
                await savepoint.rollback()
                assert publisher.in_flight == 0
            await publisher.drain()
            await broadcaster.publish(channel, "marker")
            assert await receive(subscription, 3) == ["outer", "released savepoint", "marker"]

            async with db.sessions() as session:
                publisher.publish(session, channel, "closed without commit")
            await publisher.drain()
            await broadcaster.publish(channel, "marker 2")
            assert await receive(subscription, 1) == ["marker 2"]
    finally:
        await db.dispose()


async def test_two_broadcasters_share_channels_through_redis(
    redis_url: str, open_broadcaster: OpenBroadcaster
) -> None:
    one, two = await open_broadcaster(redis_url), await open_broadcaster(redis_url)
    channel = fresh_channel()
    async with one.subscribe(channel) as on_one, two.subscribe(channel) as on_two:
        await one.publish(channel, "from one")
        await two.publish(channel, "from two")
        assert await receive(on_one, 2) == ["from one", "from two"]
        assert await receive(on_two, 2) == ["from one", "from two"]


async def test_redis_unsubscribes_when_the_last_subscriber_leaves(
    redis_url: str, open_broadcaster: OpenBroadcaster
) -> None:
    broadcaster = await open_broadcaster(redis_url)
    channel = fresh_channel()
    async with broadcaster.subscribe(channel):
        async with broadcaster.subscribe(channel):
            assert await numsub(redis_url, channel) == 1
        assert await numsub(redis_url, channel) == 1
    assert await numsub(redis_url, channel) == 0


async def test_stream_survives_a_killed_pubsub_connection(
    redis_url: str, open_broadcaster: OpenBroadcaster
) -> None:
    name = fresh_client_name()
    broadcaster = await open_broadcaster(redis_url, client_name=name)
    publisher = await open_broadcaster(redis_url)
    first, second, third = fresh_channel(), fresh_channel(), fresh_channel()
    async with broadcaster.subscribe(first) as one, broadcaster.subscribe(second) as two:
        await publisher.publish(first, "before")
        assert await receive(one, 1) == ["before"]
        epoch = broadcaster.connection_epoch

        assert await kill_pubsub_connections(redis_url, name) == 1
        async with broadcaster.subscribe(third) as joined_meanwhile:
            assert await broadcaster.wait_connected(newer_than=epoch) == epoch + 1

            assert await broadcaster.ping()
            assert await numsub(redis_url, first) == await numsub(redis_url, second) == 1
            await publisher.publish(first, "after")
            await publisher.publish(second, "after too")
            await publisher.publish(third, "joined")
            assert await receive(one, 1) == ["after"]
            assert await receive(two, 1) == ["after too"]
            assert await receive(joined_meanwhile, 1) == ["joined"]


async def test_unreachable_redis_reports_not_ready(open_broadcaster: OpenBroadcaster) -> None:
    broadcaster = await open_broadcaster(f"redis://127.0.0.1:{free_port()}/0")
    assert not broadcaster.connected
    assert not await broadcaster.ping()


def test_backend_is_chosen_by_url() -> None:
    assert create_broadcaster(None).url == "memory://"
    assert create_broadcaster("unix:///tmp/redis.sock").url == "unix:///tmp/redis.sock"
    with pytest.raises(ValueError, match="unsupported"):
        create_broadcaster("kafka://localhost:9092")


def test_channel_names() -> None:
    some = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert message_channel(some) == f"synapse:message:{some}"
    assert conversation_channel(some) == f"synapse:conversation:{some}"
    assert workspace_metrics_channel(some) == f"synapse:workspace-metrics:{some}"


async def _write_then_fail(db: Database, publisher: AfterCommitPublisher, channel: str) -> None:
    """A unit of work that queues an event and then fails, so it is rolled back."""
    async with db.transaction() as session:
        session.add(_user("rolled-back"))
        publisher.publish(session, channel, "rolled back")
        raise RuntimeError("abort")


def _user(name: str) -> User:
    return User(email=f"{name}-{uuid.uuid4().hex}@example.com", name=name, password_hash="x")


async def _user_names(db: Database) -> set[str]:
    async with db.sessions() as session:
        return set((await session.scalars(select(User.name))).all())


async def test_publish_right_after_subscribe_under_concurrency(broadcaster: Broadcaster) -> None:
    async def subscribe_publish_receive(i: int) -> list[str]:
        channel = fresh_channel()
        async with broadcaster.subscribe(channel) as subscription:
            await broadcaster.publish(channel, f"first-{i}")
            return await receive(subscription, 1)

    results = await asyncio.gather(*(subscribe_publish_receive(i) for i in range(100)))
    assert results == [[f"first-{i}"] for i in range(100)]
