"""Two hundred clients watching one answer, on both WebSocket protocols: every client
gets every delta exactly once, in order, and the text that was committed."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from tests.chat_helpers import new_conversation, send, served
from tests.helpers import db_id, scalar
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, Operation, Socket, connect

TRANSPORT_SOCKETS = 4
TRANSPORT_PER_SOCKET = 45  # 180 clients on graphql-transport-ws
LEGACY_CLIENTS = 20  # on one legacy graphql-ws socket
QUESTION = "Everyone is watching."  # the mock model answers it in 43 tokens
MAX_ATTEMPTS = 20


def assert_exactly_once(events: list[dict[str, Any]]) -> str:
    """The deltas are numbered 1, 2, ... up to the end's sequence, each starting where the
    previous one ended, and spell the committed text; that text."""
    *deltas, end = events
    assert end["__typename"] == "MessageCompleted", end
    assert all(d["__typename"] == "MessageDelta" for d in deltas), deltas
    assert [d["sequence"] for d in deltas] == list(range(1, end["sequence"] + 1))
    offset = 0
    for delta in deltas:
        assert delta["offset"] == offset, deltas
        offset += len(delta["text"])
    text = "".join(d["text"] for d in deltas)
    assert text == end["message"]["content"]
    return text


async def open_sockets(stack: AsyncExitStack, url: str, token: str) -> list[Socket]:
    """Four graphql-transport-ws sockets, then one legacy graphql-ws socket (the last)."""
    protocols = [TRANSPORT_WS] * TRANSPORT_SOCKETS + [LEGACY_WS]
    return [
        await stack.enter_async_context(connect(url, token, protocol)) for protocol in protocols
    ]


async def subscribe_everyone(sockets: list[Socket], answer_id: str) -> list[Operation]:
    """``messageStream`` of the answer: 45 on each transport socket, 20 on the legacy one."""
    counts = [TRANSPORT_PER_SOCKET] * TRANSPORT_SOCKETS + [LEGACY_CLIENTS]
    operations = []
    for socket, count in zip(sockets, counts, strict=True):
        for _ in range(count):
            operations.append(await socket.start("MessageStream", messageId=answer_id))
    return operations


async def watch(operation: Operation, answer_id: str) -> list[dict[str, Any]]:
    """The events of one client up to the answer's end. A busy server may refuse a
    subscription with ``TRY_AGAIN``: the client subscribes again after the last sequence
    it received, as clients are told to, and its events carry on from there."""
    events: list[dict[str, Any]] = []
    for _ in range(MAX_ATTEMPTS):
        received = await operation.until_end("messageStream", 60)
        *deltas, last = received
        events += deltas
        if last["__typename"] != "SubscriptionRefused":
            return [*events, last]
        assert last["code"] == "TRY_AGAIN", last
        after = events[-1]["sequence"] if events else 0
        await asyncio.sleep(0.1)
        operation = await operation.socket.start(
            "MessageStream", messageId=answer_id, afterSequence=after
        )
    raise AssertionError(f"refused {MAX_ATTEMPTS} times")


async def test_two_hundred_clients_get_every_delta_once_and_the_committed_text(
    settings, make_user, make_workspace, db_engine
) -> None:  # type: ignore[no-untyped-def]
    async with served(settings, mock_tokens_per_second=50) as server, AsyncExitStack() as stack:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        conversation = await new_conversation(server.gql, owner, workspace)
        sockets = await open_sockets(stack, server.ws_url, owner.token)
        turn = await send(server.gql, owner, conversation, QUESTION)
        assert turn["__typename"] == "ChatTurn", turn
        answer_id = turn["assistantMessage"]["id"]
        operations = await subscribe_everyone(sockets, answer_id)
        received = await asyncio.gather(*(watch(operation, answer_id) for operation in operations))
    committed = await scalar(
        db_engine, "SELECT content FROM messages WHERE id = :m", m=db_id(answer_id)
    )
    assert len(received) == TRANSPORT_SOCKETS * TRANSPORT_PER_SOCKET + LEGACY_CLIENTS
    texts = {assert_exactly_once(events) for events in received}
    assert texts == {committed}
    assert committed.startswith(f"You said: {QUESTION}")
    [last_sequence] = {events[-1]["sequence"] for events in received}
    assert last_sequence > 1  # the answer streamed in several deltas
