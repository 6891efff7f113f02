"""Limits on open connections per user and per client address (4429 with a reason), in
one process and shared through Redis, and on operations per socket; HTTP subscription
streams (multipart, SSE) count against the same limits (429 over them)."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from synapse_gql.realtime import conversation_channel
from tests.chat_helpers import new_conversation, send, served, wait_for
from tests.helpers import db_id
from tests.test_chat_stream import started_turn
from tests.test_http_subscriptions import MULTIPART, SSE, _request, subscribed
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, connect


async def refused_at_init(url: str, token: str, protocol: str = TRANSPORT_WS) -> tuple[int, str]:
    """Open a socket and send connection_init; the close code and reason it gets."""
    ws = await websockets.connect(url, subprotocols=[protocol])
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    received = []
    try:
        while True:
            received.append(json.loads(await ws.recv())["type"])
    except ConnectionClosed as closed:
        assert set(received) <= {"ka", "connection_error"}, received  # never acknowledged
        return closed.rcvd.code, closed.rcvd.reason


def open_sockets(server) -> int:
    return server.app.state.synapse_sockets.open_sockets


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_user_over_the_limit_is_closed_with_4429(settings, make_user, protocol) -> None:
    """Given a limit of two sockets per user, then a third is closed with 4429 naming the
    user limit; another user is not affected; once one closes, the user may open one."""
    async with served(settings, max_sockets_per_user=2) as server:
        user, other = await make_user("busy"), await make_user("other")
        async with (
            connect(server.ws_url, user.token, protocol),
            connect(server.ws_url, user.token, protocol),
        ):
            code, reason = await refused_at_init(server.ws_url, user.token, protocol)
            async with connect(server.ws_url, other.token, protocol):
                assert open_sockets(server) == 3
        async with connect(server.ws_url, user.token, protocol):
            assert open_sockets(server) == 1
    assert code == 4429
    assert "user" in reason


async def test_an_address_over_the_limit_is_closed_with_4429(settings, make_user) -> None:
    """Given a limit of two sockets per address, then a third socket from the address is
    closed with 4429 at once, before it authenticates."""
    async with served(settings, max_sockets_per_address=2) as server:
        user = await make_user("crowd")
        async with connect(server.ws_url, user.token):
            pending = await websockets.connect(server.ws_url, subprotocols=[TRANSPORT_WS])
            third = await websockets.connect(server.ws_url, subprotocols=[TRANSPORT_WS])
            with pytest.raises(ConnectionClosed) as closed:
                await third.recv()
            await pending.close()
    assert closed.value.rcvd.code == 4429
    assert "address" in closed.value.rcvd.reason


async def test_a_socket_runs_at_most_the_configured_operations(
    settings, make_user, make_workspace
) -> None:
    """Given two operations per socket, then a third subscription is refused with an error
    while the first two keep running."""
    async with served(settings, max_subscriptions_per_socket=2, mock_tokens_per_second=0) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        conversation = await new_conversation(server.gql, owner, workspace)
        async with connect(server.ws_url, owner.token) as socket:
            ops = [
                await socket.start("ConversationEvents", conversationId=conversation["id"])
                for _ in range(3)
            ]
            error = await socket._queues[ops[2].id].get()
            await wait_for(lambda: _subscribed(server, conversation, 2))
            await send(server.gql, owner, conversation, "Still listening?")
            first_two = [(await op.next())["conversationEvents"]["__typename"] for op in ops[:2]]
    assert "Subscription limit reached" in json.dumps(error)
    assert first_two == ["MessageAdded", "MessageAdded"]


async def _subscribed(server, conversation: dict, count: int) -> bool:
    channel = conversation_channel(db_id(conversation["id"]))
    return server.app.state.synapse.realtime.subscriber_count(channel) == count


async def test_the_user_limit_is_shared_across_processes_through_redis(
    settings, make_user, redis_url
) -> None:
    """Given two servers sharing Redis and one socket per user, when the user holds a socket
    on A, then a socket on B is closed with 4429; after A's closes, B accepts one."""
    async with (
        served(settings, redis_url=redis_url, max_sockets_per_user=1) as a,
        served(settings, redis_url=redis_url, max_sockets_per_user=1) as b,
    ):
        user = await make_user("roaming")
        async with connect(a.ws_url, user.token):
            code, _ = await refused_at_init(b.ws_url, user.token)
        async with connect(b.ws_url, user.token):
            assert open_sockets(b) == 1
    assert code == 4429


async def _refused_stream(server, accept: str, token: str, message_id: str) -> httpx.Response:
    request = _request("MessageStream", token, accept, {"messageId": message_id})
    async with server.gql.http.stream("POST", "/graphql", **request) as response:
        await response.aread()
        return response


def _refusal(response: httpx.Response) -> tuple[int, str, str, str]:
    [error] = response.json()["errors"]
    code = error["extensions"]["code"]
    return response.status_code, code, response.headers["retry-after"], error["message"]


@pytest.mark.parametrize("accept", [MULTIPART, SSE])
async def test_http_streams_count_against_the_user_limit_with_websockets(
    settings, make_user, make_workspace, accept
) -> None:
    """Given a limit of two connections per user, one WebSocket and one HTTP stream open,
    then another stream is refused with 429 TOO_MANY_CONNECTIONS and Retry-After, and so
    is another WebSocket (4429); once the stream ends, it is no longer counted and a new
    stream is served."""
    async with served(settings, max_sockets_per_user=2, mock_tokens_per_second=5) as server:
        turn = await started_turn(server, make_user, make_workspace, "A slow long answer")
        owner, answer_id = turn["owner"], turn["assistantMessage"]["id"]
        async with connect(server.ws_url, owner.token):
            async with subscribed(
                server, accept, "MessageStream", owner.token, messageId=answer_id
            ):
                assert open_sockets(server) == 2
                refused = await _refused_stream(server, accept, owner.token, answer_id)
                closed = await refused_at_init(server.ws_url, owner.token)
            await wait_for(lambda: _open(server, 1))
            async with subscribed(
                server, accept, "MessageStream", owner.token, messageId=answer_id
            ):
                assert open_sockets(server) == 2

    status, code, retry_after, message = _refusal(refused)
    assert (status, code, retry_after) == (429, "TOO_MANY_CONNECTIONS", "10")
    assert "user" in message
    assert closed[0] == 4429


@pytest.mark.parametrize("accept", [MULTIPART, SSE])
async def test_http_streams_count_against_the_address_limit(
    settings, make_user, make_workspace, accept
) -> None:
    """Given a limit of one connection per address and a stream open, then a stream of
    another user from the same address is refused with 429 naming the address, and
    nothing stays counted once the first stream ends."""
    async with served(settings, max_sockets_per_address=1, mock_tokens_per_second=5) as server:
        turn = await started_turn(server, make_user, make_workspace, "A slow long answer")
        owner, answer_id = turn["owner"], turn["assistantMessage"]["id"]
        other = await make_user("other")
        async with subscribed(server, accept, "MessageStream", owner.token, messageId=answer_id):
            refused = await _refused_stream(server, accept, other.token, answer_id)
        await wait_for(lambda: _open(server, 0))

    status, code, _, message = _refusal(refused)
    assert (status, code) == (429, "TOO_MANY_CONNECTIONS")
    assert "address" in message


async def _open(server, count: int) -> bool:
    return open_sockets(server) == count
