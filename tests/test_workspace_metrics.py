"""Live workspace metrics over WebSocket: a snapshot, then updates at most once a second."""

from __future__ import annotations

import asyncio
import math
import time
from decimal import Decimal

from synapse_gql.metrics import ticker
from synapse_gql.realtime import workspace_metrics_channel
from tests.access_helpers import remove
from tests.chat_helpers import new_conversation, send, served, wait_for
from tests.generation_helpers import generate
from tests.helpers import db_id, fetch
from tests.test_http_subscriptions import SSE, subscribed
from tests.ws_client import LEGACY_WS, Operation, connect

FIELD = "workspaceMetrics"


async def _mock_model(server, owner) -> str:
    llms = await server.gql.op("Llms", owner.token, provider="mock")
    [mock] = [edge["node"] for edge in llms["llms"]["edges"]]
    return mock["id"]


async def _event(op: Operation) -> dict:
    payload = await op.next()
    assert payload is not None, "the subscription ended"
    return payload[FIELD]


async def _next_metrics(op: Operation) -> dict:
    event = await _event(op)
    assert event["__typename"] == "WorkspaceMetrics", event
    return event


async def _until(op: Operation, condition) -> list[dict]:
    """The updates received up to and including the first that meets ``condition``."""
    received = [await _next_metrics(op)]
    while not condition(received[-1]):
        received.append(await _next_metrics(op))
    return received


async def _ticking(server, workspace: dict) -> None:
    channel = workspace_metrics_channel(db_id(workspace["id"]))
    realtime = server.app.state.synapse.realtime
    await wait_for(lambda: _subscribed(realtime, channel))


async def _subscribed(realtime, channel: str) -> bool:
    return realtime.subscriber_count(channel) == 1


async def test_snapshot_then_update_then_refusal_on_removal(
    settings, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given a member (graphql-transport-ws) and the owner (legacy graphql-ws) subscribed to
    the hour's metrics, then a snapshot of nothing arrives, and a metered call gives both
    update 2, equal to its usage row, executed and encoded once for both; a viewer is
    refused; removing the member ends its subscription with SubscriptionRefused, the
    owner's goes on, and the ticker stops once both have left."""
    async with served(settings, mock_tokens_per_second=0) as server:
        owner, member, viewer = [await make_user(n) for n in ("owner", "member", "viewer")]
        workspace = await make_workspace(owner)
        await add_member(owner, workspace, member, "MEMBER")
        await add_member(owner, workspace, viewer, "VIEWER")
        mock = await _mock_model(server, owner)
        variables = {"workspaceId": workspace["id"], "window": "HOUR"}
        async with (
            connect(server.ws_url, member.token) as socket,
            connect(server.ws_url, owner.token, protocol=LEGACY_WS) as owner_socket,
        ):
            op = await socket.start("LiveWorkspaceMetrics", **variables)
            owners = await owner_socket.start("LiveWorkspaceMetrics", **variables)
            snapshots = [await _next_metrics(op), await _next_metrics(owners)]
            await _ticking(server, workspace)
            done = await generate(server.gql, owner.token, workspace, mock)
            assert done["__typename"] == "Generation", done
            update, owners_update = await _next_metrics(op), await _next_metrics(owners)
            live = server.app.state.synapse.live_metrics
            [group] = live.groups.running.values()
            assert (len(group.subscribers), group.encodings) == (2, 2)

            async with connect(server.ws_url, viewer.token) as refused_socket:
                refused = await refused_socket.start(
                    "LiveWorkspaceMetrics", workspaceId=workspace["id"], window="MINUTE"
                )
                event = await _event(refused)
                assert (event["__typename"], event["code"]) == ("SubscriptionRefused", "FORBIDDEN")

            await remove(server, owner, workspace, member)
            ended = await _event(op)
            assert (ended["__typename"], ended["code"]) == ("SubscriptionRefused", "NOT_FOUND")
            assert await op.next() is None
            assert len(group.subscribers) == 1
        await wait_for(lambda: _stopped(live))

    [row] = await fetch(db_engine, "SELECT * FROM usage_logs")
    assert [(m["sequence"], m["calls"], m["window"]) for m in snapshots] == [(1, 0, "HOUR")] * 2
    assert {(Decimal(m["spend"]), m["latencyP50Ms"]) for m in snapshots} == {(Decimal(0), None)}
    assert owners_update == update
    assert (update["sequence"], update["calls"], update["errors"]) == (2, 1, 0)
    assert Decimal(update["spend"]) == row.cost
    assert (update["inputTokens"], update["outputTokens"]) == (row.input_tokens, row.output_tokens)
    assert update["totalTokens"] == row.total_tokens
    assert update["latencyP50Ms"] == update["latencyP95Ms"] == row.latency_ms


async def _stopped(live) -> bool:
    return live.tickers.running == {} and live.groups.running == {}


async def test_bursts_are_coalesced_and_answers_in_flight_counted(
    settings, make_user, make_workspace, monkeypatch
) -> None:
    """Given a subscriber of the minute's metrics, when an answer streams, then an update
    counts it in flight and a later one counts its call; when twelve calls land at once,
    the updates are consecutive by sequence and at most one per second arrives."""
    monkeypatch.setattr(ticker, "SWEEP_SECONDS", 0.2)
    async with served(settings, mock_tokens_per_second=30) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        mock = await _mock_model(server, owner)
        async with connect(server.ws_url, owner.token) as socket:
            op = await socket.start(
                "LiveWorkspaceMetrics", workspaceId=workspace["id"], window="MINUTE"
            )
            first = await _next_metrics(op)
            await _ticking(server, workspace)
            conversation = await new_conversation(server.gql, owner, workspace)
            turn = await send(server.gql, owner, conversation, "a question to stream")
            assert turn["__typename"] == "ChatTurn", turn
            streaming = await _until(op, lambda m: m["generationsInFlight"] == 1)
            answered = await _until(op, lambda m: m["calls"] == 1)
            assert answered[-1]["generationsInFlight"] == 0

            started = time.monotonic()
            burst = (
                generate(server.gql, owner.token, workspace, mock, maxTokens=4) for _ in range(12)
            )
            results = await asyncio.gather(*burst)
            assert {r["__typename"] for r in results} == {"Generation"}
            updates = await _until(op, lambda m: m["calls"] == 13)
            elapsed = time.monotonic() - started

    sequences = [m["sequence"] for m in [first, *streaming, *answered, *updates]]
    assert sequences == list(range(1, len(sequences) + 1))
    assert len(updates) <= math.floor(elapsed) + 2


async def test_a_call_metered_by_another_process_updates_the_subscribers(
    settings, make_user, make_workspace, redis_url
) -> None:
    """Given two servers sharing Redis and a subscriber on A, when a call is metered on B,
    then A's subscriber receives an update counting it."""
    async with (
        served(settings, redis_url=redis_url, mock_tokens_per_second=0) as a,
        served(settings, redis_url=redis_url, mock_tokens_per_second=0) as b,
    ):
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        mock = await _mock_model(b, owner)
        async with connect(a.ws_url, owner.token) as socket:
            op = await socket.start(
                "LiveWorkspaceMetrics", workspaceId=workspace["id"], window="HOUR"
            )
            snapshot = await _next_metrics(op)
            await _ticking(a, workspace)
            done = await generate(b.gql, owner.token, workspace, mock)
            assert done["__typename"] == "Generation", done
            update = await _next_metrics(op)
    assert (snapshot["calls"], update["calls"], update["sequence"]) == (0, 1, 2)


async def test_over_http_the_snapshot_then_an_update_arrive(
    settings, make_user, make_workspace
) -> None:
    """Given an owner subscribed over HTTP (server-sent events), then the snapshot arrives,
    and after a metered call an update counting it."""
    async with served(settings, mock_tokens_per_second=0) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        mock = await _mock_model(server, owner)
        variables = {"workspaceId": workspace["id"], "window": "MINUTE"}
        async with subscribed(server, SSE, "LiveWorkspaceMetrics", owner.token, **variables) as (
            stream,
            _,
        ):
            await wait_for(lambda: _received(stream, 1))
            await _ticking(server, workspace)
            done = await generate(server.gql, owner.token, workspace, mock)
            assert done["__typename"] == "Generation", done
            await wait_for(lambda: _received(stream, 2))
    snapshot, update = stream.field(FIELD)
    assert [(m["sequence"], m["calls"]) for m in (snapshot, update)] == [(1, 0), (2, 1)]


async def _received(stream, count: int) -> bool:
    return len(stream.results) >= count
