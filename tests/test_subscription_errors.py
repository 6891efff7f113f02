"""Errors in subscriptions reach clients as they do for queries: an unexpected exception
(a pool timeout included) only as a masked error with an id the log holds, a DomainError
with its code; over both WebSocket protocols and over HTTP. Subscription set-ups are
admitted a bounded number at a time, the rest queued; past the queue's bound, or when the
pool has no connection for a set-up in time, the refusal is a retryable TRY_AGAIN."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest

from synapse_gql.errors import Forbidden, TryAgain
from synapse_gql.realtime import workspace_metrics_channel
from synapse_gql.realtime.admission import SubscribeAdmission, admission_of
from synapse_gql.realtime.events import UsageEvent, encode
from synapse_gql.workspaces import feeds
from tests.chat_helpers import Served, served, wait_for
from tests.helpers import db_id
from tests.test_http_subscriptions import SSE, read_all
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, Operation, Socket, connect

HEX_ID = re.compile(r"[0-9a-f]{32}")
FEED = "LiveWorkspaceUsage"
PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]


async def received(op: Operation) -> dict[str, Any] | None:
    """The operation's next raw payload (data and/or errors); None once completed."""
    return await asyncio.wait_for(op.socket._queues[op.id].get(), 30)


def only_error(payload: dict[str, Any] | None) -> dict[str, Any]:
    assert payload is not None
    assert payload.get("errors"), payload
    errors = payload["errors"]
    [error] = errors if isinstance(errors, list) else [errors]
    return error


def assert_masked(error: dict[str, Any], caplog: pytest.LogCaptureFixture) -> type:
    """``error`` is masked and its id is logged with the trace; the trace's exception type."""
    assert error["message"].startswith("Internal server error"), error
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    error_id = error["extensions"]["errorId"]
    assert HEX_ID.fullmatch(error_id)
    assert error_id in error["message"]
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert record.exc_info is not None
    return type(record.exc_info[1])


def failing_feed(error: Exception):
    """A usage feed that fails with ``error`` once the subscription is under way."""

    async def events(state: Any, workspace_id: uuid.UUID) -> AsyncIterator[Any]:
        raise error
        yield  # an async generator, like the real feed

    return events


async def crash(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("secret set-up")


@asynccontextmanager
async def pool_held(server: Served) -> AsyncIterator[None]:
    """Every connection of the app's pool (pool size 1, overflow 1) checked out by the test."""
    engine = server.app.state.synapse.db.engine
    async with AsyncExitStack() as stack:
        for _ in range(2):
            await stack.enter_async_context(engine.connect())
        yield


@asynccontextmanager
async def sockets(server: Served, token: str, count: int) -> AsyncIterator[list[Socket]]:
    """``count`` sockets, one subscription each: a socket's own operations share one read
    connection, so only subscriptions on different sockets check access at once."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(connect(server.ws_url, token)) for _ in range(count)]


async def feed_subscribers(server: Served, workspace: dict, count: int) -> None:
    realtime = server.app.state.synapse.realtime
    channel = workspace_metrics_channel(db_id(workspace["id"]))

    async def reached() -> bool:
        return realtime.subscriber_count(channel) == count

    await wait_for(reached)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_unexpected_errors_reach_websocket_clients_masked(
    settings, make_user, make_workspace, monkeypatch, caplog, protocol
) -> None:
    """Given a subscription whose set-up crashes, and one whose stream crashes, when
    subscribed over WebSocket, then each gets a masked error whose id the log holds with
    the trace, none of the crash's text; a DomainError keeps its code and message."""
    caplog.set_level(logging.ERROR, logger="synapse_gql.errors")
    async with served(settings) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        async with connect(server.ws_url, owner.token, protocol) as socket:
            with monkeypatch.context() as patch:
                patch.setattr(feeds, "require_role", crash)
                at_setup = await socket.start(FEED, workspaceId=workspace["id"])
                setup_error = only_error(await received(at_setup))
            monkeypatch.setattr(
                "synapse_gql.usage.subscriptions.usage_events",
                failing_feed(RuntimeError("secret stream")),
            )
            mid_stream = await socket.start(FEED, workspaceId=workspace["id"])
            stream_error = only_error(await received(mid_stream))
            assert await received(mid_stream) is None
            refusal = Forbidden("Not for you.", field=["workspaceId"])
            monkeypatch.setattr(
                "synapse_gql.usage.subscriptions.usage_events", failing_feed(refusal)
            )
            domain = await socket.start(FEED, workspaceId=workspace["id"])
            domain_error = only_error(await received(domain))

    assert "secret" not in json.dumps([setup_error, stream_error])
    assert assert_masked(setup_error, caplog) is RuntimeError
    assert assert_masked(stream_error, caplog) is RuntimeError
    assert domain_error["message"] == "Not for you."
    assert domain_error["extensions"]["code"] == "FORBIDDEN"
    assert domain_error["extensions"]["path"] == ["workspaceId"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_pool_timeout_mid_stream_reaches_the_client_as_try_again(
    settings, make_user, make_workspace, caplog, protocol
) -> None:
    """Given a live usage feed and every pooled connection held, when an event arrives and
    the feed's read times out waiting for a connection, then the client gets the typed,
    retryable TRY_AGAIN (the log has the pool's text), never the pool's text."""
    caplog.set_level(logging.WARNING, logger="synapse_gql.errors")
    async with served(settings, db_pool_size=1) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        state = server.app.state.synapse
        async with connect(server.ws_url, owner.token, protocol) as socket:
            feed = await socket.start(FEED, workspaceId=workspace["id"])
            await feed_subscribers(server, workspace, 1)
            state.db.engine.pool._timeout = 0.2  # the test waits 0.2 s, not 30
            async with pool_held(server):
                channel = workspace_metrics_channel(db_id(workspace["id"]))
                await state.realtime.publish(channel, encode(UsageEvent(usage_log_id=uuid.uuid4())))
                error = only_error(await received(feed))
            assert await received(feed) is None

    assert "QueuePool" not in json.dumps(error)
    assert error["extensions"]["code"] == "TRY_AGAIN", error
    assert any("pool exhausted" in record.getMessage() for record in caplog.records)


async def test_an_unexpected_error_over_server_sent_events_is_masked(
    settings, make_user, make_workspace, monkeypatch, caplog
) -> None:
    """Given a usage feed that crashes, when subscribed over SSE, then the one result is a
    masked error with a logged id, and the stream completes."""
    caplog.set_level(logging.ERROR, logger="synapse_gql.errors")
    monkeypatch.setattr(
        "synapse_gql.usage.subscriptions.usage_events", failing_feed(RuntimeError("secret"))
    )
    async with served(settings) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        stream = await read_all(server, SSE, FEED, owner.token, workspaceId=workspace["id"])

    [result] = stream.results
    assert "secret" not in json.dumps(result)
    assert assert_masked(only_error(result), caplog) is RuntimeError
    assert stream.completed


async def test_no_connection_for_a_set_up_in_time_is_refused_try_again(
    settings, make_user, make_workspace
) -> None:
    """Given every pooled connection held (pool timeout 30 s), when subscribing, then the
    refusal comes after the set-up timeout with TRY_AGAIN; once connections are free again,
    the same subscription starts."""
    async with served(settings, db_pool_size=1, subscribe_timeout_seconds=0.3) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        async with connect(server.ws_url, owner.token) as socket:
            async with pool_held(server):
                refused = await socket.start(FEED, workspaceId=workspace["id"])
                event = (await refused.next())["workspaceUsage"]
            assert await refused.next() is None
            await socket.start(FEED, workspaceId=workspace["id"])
            await feed_subscribers(server, workspace, 1)

    assert (event["__typename"], event["code"]) == ("SubscriptionRefused", "TRY_AGAIN")
    assert "QueuePool" not in event["reason"]


async def test_set_ups_beyond_the_limit_wait_their_turn(
    settings, make_user, make_workspace, monkeypatch
) -> None:
    """Given at most 2 set-ups at once and a slow access check, when 10 subscriptions start
    together (on 10 sockets), then all 10 start and the check never ran more than twice at
    once."""
    running, peak = 0, 0
    real_check = feeds.require_role

    async def slow_check(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.02)
            return await real_check(*args, **kwargs)
        finally:
            running -= 1

    monkeypatch.setattr(feeds, "require_role", slow_check)
    async with served(settings, max_concurrent_subscribe=2) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        async with sockets(server, owner.token, 10) as opened:
            ops = [await socket.start(FEED, workspaceId=workspace["id"]) for socket in opened]
            await feed_subscribers(server, workspace, 10)
            unread = sum(op.socket._queues[op.id].qsize() for op in ops)

    assert peak == 2
    assert unread == 0  # no refusal, no error


async def test_past_the_queue_bound_the_refusal_is_try_again(
    settings, make_user, make_workspace, monkeypatch
) -> None:
    """Given one set-up at a time, at most 2 waiting and the running check held, when a
    fourth subscription starts, then it is refused at once with TRY_AGAIN; the three
    others start once the check is let go."""
    let_go = asyncio.Event()
    real_check = feeds.require_role

    async def held_check(*args: Any, **kwargs: Any) -> Any:
        await let_go.wait()
        return await real_check(*args, **kwargs)

    monkeypatch.setattr(feeds, "require_role", held_check)
    changes = {"max_concurrent_subscribe": 1, "subscribe_queue_limit": 2}
    async with served(settings, **changes) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        admission = admission_of(server.app.state.synapse)
        async with sockets(server, owner.token, 4) as opened:
            for socket in opened[:3]:
                await socket.start(FEED, workspaceId=workspace["id"])

            async def queue_full() -> bool:
                return admission.waiting == 2

            await wait_for(queue_full)
            refused = await opened[3].start(FEED, workspaceId=workspace["id"])
            event = (await refused.next())["workspaceUsage"]
            let_go.set()
            await feed_subscribers(server, workspace, 3)

    assert (event["__typename"], event["code"]) == ("SubscriptionRefused", "TRY_AGAIN")


async def test_admission_is_first_come_first_served_and_bounded_in_time() -> None:
    """Given one turn at a time, when three wait, then they run in arrival order; a waiter
    still queued after the timeout is refused with TryAgain and the queue empties."""
    admission = SubscribeAdmission(limit=1, queue_limit=10, timeout=0.5)
    order: list[int] = []

    async def set_up(n: int) -> None:
        async with admission.slot():
            order.append(n)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(set_up(n) for n in range(4)))
    assert order == [0, 1, 2, 3]

    busy = SubscribeAdmission(limit=1, queue_limit=1, timeout=0.05)
    busy.running = 1  # the one turn is taken and never given back
    with pytest.raises(TryAgain, match="could not start"):
        async with busy.slot():
            pass
    assert busy.waiting == 0
    full = SubscribeAdmission(limit=1, queue_limit=0, timeout=5)
    full.running = 1
    with pytest.raises(TryAgain, match="Too many"):
        async with full.slot():
            pass
