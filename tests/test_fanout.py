"""One answer, many subscribers, served by the hub (``realtime.fanout``): each event is
executed once per group of identical subscriptions, every subscriber gets every delta once
and in order, a socket that stops reading is closed without holding up the others, and a
subscriber that loses access mid-stream is refused."""

from __future__ import annotations

import asyncio
import json
import socket as sockets
from contextlib import AsyncExitStack
from typing import Any

import websockets

from tests.access_helpers import remove, start_raw
from tests.chat_helpers import new_conversation, send, served
from tests.helpers import db_id, scalar
from tests.test_stream_fanout_many import assert_exactly_once
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, Operation, Socket, connect

QUESTION = "Everyone is watching."  # the mock model answers it in 43 tokens
SOCKETS, PER_SOCKET = 3, 16
RESUMED_AFTER = 3

SHORT_SELECTION = """
subscription Short($messageId: ID!) {
  messageStream(messageId: $messageId) {
    __typename
    ... on MessageDelta { sequence offset text }
    ... on MessageCompleted { sequence message { content } }
  }
}
"""
WIDE_DELTA = " ".join(f"t{n}: text" for n in range(28))
WIDE_SELECTION = (
    "subscription Wide($messageId: ID!) { messageStream(messageId: $messageId) {"
    f" __typename ... on MessageDelta {{ sequence {WIDE_DELTA} }} }} }}"
)
REFUSABLE = """
subscription ($messageId: ID!) {
  messageStream(messageId: $messageId) {
    __typename
    ... on MessageDelta { sequence }
    ... on SubscriptionRefused { code }
  }
}
"""


def hub_of(server) -> Any:
    return server.app.state.synapse.feed_hub


async def answer_to(server, owner, conversation) -> str:
    """Send ``QUESTION``; the id of the answer being written."""
    return (await send(server.gql, owner, conversation, QUESTION))["assistantMessage"]["id"]


async def until_end(op: Operation) -> list[dict]:
    return await op.until_end("messageStream", 60)


async def test_each_event_is_executed_once_per_group_and_reaches_everyone(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given 48 subscribers of one answer with the same document on three sockets, two
    with another selection and two resuming after sequence 3 on a legacy socket, when the
    answer streams, then each gets every delta once, in order, with the committed text,
    and each event was executed once per group (not once per subscriber)."""
    async with served(settings, mock_tokens_per_second=40) as server, AsyncExitStack() as stack:
        owner = await make_user("owner")
        conversation = await new_conversation(server.gql, owner, await make_workspace(owner))
        url, token = server.ws_url, owner.token
        shared = [await stack.enter_async_context(connect(url, token)) for _ in range(SOCKETS)]
        legacy = await stack.enter_async_context(connect(url, token, LEGACY_WS))
        answer_id = await answer_to(server, owner, conversation)
        same = [await s.start("MessageStream", messageId=answer_id) for s in shared * PER_SOCKET]
        short = [await start_raw(shared[0], SHORT_SELECTION, messageId=answer_id) for _ in "ab"]
        resumed = [
            await legacy.start("MessageStream", messageId=answer_id, afterSequence=RESUMED_AFTER)
            for _ in "ab"
        ]
        received = await asyncio.gather(*(until_end(op) for op in same + short + resumed))
    committed = await scalar(
        db_engine, "SELECT content FROM messages WHERE id = :m", m=db_id(answer_id)
    )
    full, brief, late = received[: len(same)], received[len(same) : -2], received[-2:]
    assert {assert_exactly_once(events) for events in full} == {committed}
    last = full[0][-1]["sequence"]
    for events in brief:
        *deltas, end = events
        assert [d["sequence"] for d in deltas] == list(range(1, last + 1))
        assert "".join(d["text"] for d in deltas) == end["message"]["content"] == committed
    for events in late:
        *deltas, end = events
        assert [d["sequence"] for d in deltas] == list(range(RESUMED_AFTER + 1, last + 1))
        assert deltas[0]["offset"] == len("".join(d["text"] for d in full[0][:RESUMED_AFTER]))
    # Three groups (same, short, resumed): each delta written once per group (from the
    # selection's template, not executed), each end executed once.
    hub = hub_of(server)
    assert hub.rendered == last * 2 + (last - RESUMED_AFTER)
    assert hub.executions == 3


async def raw_socket_that_stops_reading(url: str, token: str, answer_id: str, count: int) -> Any:
    """A socket with a tiny receive buffer subscribed ``count`` times, never read again."""
    sock = sockets.socket()
    sock.setsockopt(sockets.SOL_SOCKET, sockets.SO_RCVBUF, 4096)
    host, port = url.removeprefix("ws://").split("/")[0].split(":")
    sock.connect((host, int(port)))
    ws = await websockets.connect(
        url, subprotocols=[TRANSPORT_WS], sock=sock, max_queue=1, compression=None
    )
    init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
    await ws.send(json.dumps(init))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    for n in range(count):
        payload = {"query": WIDE_SELECTION, "variables": {"messageId": answer_id}}
        await ws.send(json.dumps({"id": f"slow-{n}", "type": "subscribe", "payload": payload}))
    return ws


async def close_code(ws: Any) -> int | None:
    """Read what is left until the server's close; its code."""
    try:
        async with asyncio.timeout(30):
            async for _ in ws:
                pass
    except websockets.ConnectionClosed:
        pass
    return ws.close_code


async def test_a_socket_that_stops_reading_is_closed_and_the_others_complete(
    settings, make_user, make_workspace
) -> None:
    """Given a socket whose client stops reading with 400 wide subscriptions of an answer
    (more than the kernel's buffers hold, so its writes stop going through), and a healthy
    socket subscribed to it too (its catch-up from the log queued at once, past the hard
    bound), when the answer streams, then the slow socket is closed with 4408 and the
    healthy one gets the whole answer."""
    async with served(
        settings,
        mock_tokens_per_second=40,
        subscription_send_queue=8,
        slow_consumer_seconds=0.2,
        max_subscriptions_per_socket=400,
    ) as server:
        owner = await make_user("owner")
        conversation = await new_conversation(server.gql, owner, await make_workspace(owner))
        answer_id = await answer_to(server, owner, conversation)
        slow = await raw_socket_that_stops_reading(server.ws_url, owner.token, answer_id, 400)
        async with connect(server.ws_url, owner.token) as healthy:
            op = await healthy.start("MessageStream", messageId=answer_id)
            events = await until_end(op)
        assert_exactly_once(events)
        slow.transport.resume_reading()
        assert await close_code(slow) == 4408


async def test_a_subscriber_removed_mid_stream_is_refused(
    settings, make_user, make_workspace, add_member
) -> None:
    """Given a member and the owner watching an answer with the same document, when the
    member is removed mid-stream, then the member's subscription ends with
    SubscriptionRefused NOT_FOUND and the owner's goes on to the end."""
    async with served(settings, mock_tokens_per_second=20) as server, AsyncExitStack() as stack:
        owner, member = await make_user("owner"), await make_user("member")
        workspace = await make_workspace(owner)
        await add_member(owner, workspace, member, "MEMBER")
        conversation = await new_conversation(server.gql, owner, workspace)
        answer_id = await answer_to(server, owner, conversation)
        sockets_: list[Socket] = [
            await stack.enter_async_context(connect(server.ws_url, who.token))
            for who in (owner, member)
        ]
        watching = [await start_raw(s, REFUSABLE, messageId=answer_id) for s in sockets_]
        first = await watching[1].next()
        assert first is not None
        assert first["messageStream"]["__typename"] == "MessageDelta"
        await remove(server, owner, workspace, member)
        member_events = [e async for e in watching[1].events("messageStream")]
        owner_events = [e async for e in watching[0].events("messageStream")]
    assert member_events[-1] == {"__typename": "SubscriptionRefused", "code": "NOT_FOUND"}
    assert all(e["__typename"] == "MessageDelta" for e in member_events[:-1])
    assert owner_events[-1]["__typename"] == "MessageCompleted"
    sequences = [e["sequence"] for e in owner_events[:-1]]
    assert sequences == list(range(1, len(sequences) + 1))
