"""Sending a message and watching the answer stream over WebSocket: late joins, resuming,
subscribing after the end, stopping mid-stream and refused subscriptions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.llm import ChatMessage, count_tokens
from synapse_gql.realtime import message_channel
from tests.chat_helpers import Served, new_conversation, send, served, wait_for
from tests.helpers import db_id, execute, fetch, scalar
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, connect

# A priced mock model, so that metering charges something (per million tokens).
MOCK_INPUT_PRICE = Decimal("2")
MOCK_OUTPUT_PRICE = Decimal("4")


def contiguous_text(deltas: list[dict[str, Any]], after: int = 0, offset: int = 0) -> str:
    """Assert the deltas are numbered ``after + 1``, ``after + 2`` ... with no gap or
    duplicate, each starting where the previous one ended; return their text."""
    assert all(d["__typename"] == "MessageDelta" for d in deltas), deltas
    assert [d["sequence"] for d in deltas] == list(range(after + 1, after + 1 + len(deltas)))
    for delta in deltas:
        assert delta["offset"] == offset, deltas
        offset += len(delta["text"])
    return "".join(d["text"] for d in deltas)


async def logged_deltas(server: Served, answer: dict) -> int:
    """How many deltas of ``answer`` the server's delta log holds."""
    return len(await server.app.state.synapse.stream_log.read(db_id(answer["id"])))


async def wait_logged(server: Served, answer: dict, count: int) -> None:
    """Wait until at least ``count`` deltas of ``answer`` were written."""

    async def enough() -> bool:
        return await logged_deltas(server, answer) >= count

    await wait_for(enough)


async def status_of(engine: AsyncEngine, answer: dict) -> str:
    return await scalar(engine, "SELECT status FROM messages WHERE id = :m", m=db_id(answer["id"]))


async def wait_ended(engine: AsyncEngine, answer: dict) -> None:
    """Wait until ``answer`` is no longer streaming."""

    async def ended() -> bool:
        return await status_of(engine, answer) != "streaming"

    await wait_for(ended)


async def price_mock(engine: AsyncEngine) -> None:
    """Give the mock model a price, so its calls cost something."""
    await execute(
        engine,
        "UPDATE llm_prices SET input_price_per_million = :i, output_price_per_million = :o"
        " WHERE valid_to IS NULL AND llm_id ="
        " (SELECT id FROM llms WHERE provider = 'mock' AND model_id = 'synapse-dev')",
        i=MOCK_INPUT_PRICE,
        o=MOCK_OUTPUT_PRICE,
    )


async def usage_of(engine: AsyncEngine, answer: dict) -> Any:
    """The single usage log row of ``answer``."""
    [row] = await fetch(
        engine,
        "SELECT id, input_tokens, output_tokens, tokens_estimated, cost, status, error_code"
        " FROM usage_logs WHERE message_id = :m",
        m=db_id(answer["id"]),
    )
    return row


async def started_turn(server: Served, make_user, make_workspace, content: str) -> dict:
    """An owner's new conversation and a question sent to it; the ChatTurn."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(server.gql, owner, workspace)
    turn = await send(server.gql, owner, conversation, content)
    assert turn["__typename"] == "ChatTurn", turn
    turn["owner"], turn["workspace"] = owner, workspace
    return turn


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_send_and_stream_every_token_in_order(
    settings, make_user, make_workspace, db_engine, protocol
) -> None:
    async with served(settings, mock_tokens_per_second=200) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        conversation = await new_conversation(server.gql, owner, workspace)
        turn = await send(server.gql, owner, conversation, "Hello model")
        assert turn["__typename"] == "ChatTurn", turn
        answer = turn["assistantMessage"]
        assert answer["status"] == "STREAMING"
        async with connect(server.ws_url, owner.token, protocol) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            events = await op.until_end("messageStream")
        deltas, end = events[:-1], events[-1]
        assert [d["sequence"] for d in deltas] == list(range(1, len(deltas) + 1))
        text = "".join(d["text"] for d in deltas)
        assert end["__typename"] == "MessageCompleted", end
        assert end["message"]["content"] == text
        assert text.startswith("You said: Hello model.")
        [usage] = await fetch(
            db_engine,
            "SELECT id, input_tokens, output_tokens, cost FROM usage_logs WHERE message_id = :m",
            m=db_id(answer["id"]),
        )
        assert end["usage"]["outputTokens"] == usage.output_tokens
        assert Decimal(end["usage"]["cost"]) == usage.cost


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_a_late_subscriber_gets_every_delta_once_then_the_end(
    settings, make_user, make_workspace, db_engine, protocol
) -> None:
    """Given an answer already a few deltas in, when subscribing, then the deltas written
    before (from the log) and after (live) arrive once each, numbered 1..n, with offsets
    that add up, and the end's sequence is the last delta's and the message's."""
    async with served(settings, mock_tokens_per_second=20) as server:
        turn = await started_turn(server, make_user, make_workspace, "Tell me a long story")
        answer = turn["assistantMessage"]
        await wait_logged(server, answer, 3)
        assert await status_of(db_engine, answer) == "streaming"

        async with connect(server.ws_url, turn["owner"].token, protocol) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            events = await op.until_end("messageStream")
            assert await op.next() is None  # the stream completes after its end

    deltas, end = events[:-1], events[-1]
    text = contiguous_text(deltas)
    assert end["__typename"] == "MessageCompleted", end
    assert end["message"]["status"] == "COMPLETED"
    assert end["message"]["content"] == text
    assert end["sequence"] == deltas[-1]["sequence"] == end["message"]["streamSequence"]
    assert len(deltas) > 3
    assert all(d["messageId"] == answer["id"] for d in deltas)


async def test_resuming_after_sequence_k_gets_the_rest(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given a subscriber that read k deltas and dropped its connection, when it subscribes
    again with afterSequence=k, then it gets k+1.. to the end, and the two parts join to
    the final text with no sequence twice."""
    k = 3
    async with served(settings, mock_tokens_per_second=20) as server:
        turn = await started_turn(server, make_user, make_workspace, "Resume me please")
        answer = turn["assistantMessage"]
        token = turn["owner"].token
        async with connect(server.ws_url, token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            first = [await op.next() for _ in range(k)]
        first = [data["messageStream"] for data in first]  # type: ignore[index]
        first_text = contiguous_text(first)

        async def unsubscribed() -> bool:
            channel = message_channel(db_id(answer["id"]))
            return server.app.state.synapse.realtime.subscriber_count(channel) == 0

        await wait_for(unsubscribed)  # the dropped connection let go of its subscription
        assert await status_of(db_engine, answer) == "streaming"

        async with connect(server.ws_url, token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"], afterSequence=k)
            events = await op.until_end("messageStream")

    rest, end = events[:-1], events[-1]
    rest_text = contiguous_text(rest, after=k, offset=len(first_text))
    assert end["__typename"] == "MessageCompleted", end
    assert first_text + rest_text == end["message"]["content"]
    assert end["sequence"] == rest[-1]["sequence"] == end["message"]["streamSequence"]


async def test_subscribing_after_the_end_replays_the_log(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given an answer that ended, when subscribing, then every delta from the log and the
    end; with afterSequence at the last delta, the end alone."""
    async with served(settings, mock_tokens_per_second=0) as server:
        turn = await started_turn(server, make_user, make_workspace, "Already done")
        answer = turn["assistantMessage"]
        await wait_ended(db_engine, answer)
        usage = await usage_of(db_engine, answer)
        async with connect(server.ws_url, turn["owner"].token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            events = await op.until_end("messageStream")
            assert await op.next() is None
            deltas, end = events[:-1], events[-1]
            last = end["sequence"]
            again = await socket.start("MessageStream", messageId=answer["id"], afterSequence=last)
            only_end = await again.until_end("messageStream")
            assert await again.next() is None

    assert end["__typename"] == "MessageCompleted", end
    assert contiguous_text(deltas) == end["message"]["content"]
    assert last == deltas[-1]["sequence"] == end["message"]["streamSequence"] > 0
    assert db_id(end["usage"]["id"]) == usage.id
    [completed] = only_end
    assert completed["__typename"] == "MessageCompleted", only_end
    assert completed["sequence"] == last
    assert completed["message"] == end["message"]
    assert completed["usage"] == end["usage"]


async def test_stopping_mid_stream_ends_the_subscription_cancelled(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given a subscriber watching an answer, when the owner stops it over HTTP, then the
    subscriber gets MessageCompleted with status CANCELLED and the text it received, and the
    call is charged for the prompt and the partial reply, counted locally (estimated)."""
    await price_mock(db_engine)
    question = "Stop me halfway"
    async with served(settings, mock_tokens_per_second=20) as server:
        turn = await started_turn(server, make_user, make_workspace, question)
        answer = turn["assistantMessage"]
        token = turn["owner"].token
        async with connect(server.ws_url, token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            first = [(await op.next())["messageStream"] for _ in range(3)]  # type: ignore[index]
            stopped = await server.gql.op(
                "StopGeneration", token, input={"messageId": answer["id"]}
            )
            events = first + await op.until_end("messageStream")
            assert await op.next() is None

    stopped = stopped["stopGeneration"]
    deltas, end = events[:-1], events[-1]
    text = contiguous_text(deltas)
    assert end["__typename"] == "MessageCompleted", end
    assert end["message"]["status"] == "CANCELLED"
    assert end["message"]["content"] == text == stopped["content"]
    assert stopped["status"] == "CANCELLED"
    assert end["sequence"] == deltas[-1]["sequence"] == end["message"]["streamSequence"]

    usage = await usage_of(db_engine, answer)
    assert (usage.status, usage.error_code, usage.tokens_estimated) == (
        "cancelled",
        "CANCELLED",
        True,
    )
    input_tokens, _ = count_tokens("synapse-dev", "mock", [ChatMessage("user", question)])
    output_tokens, _ = count_tokens("synapse-dev", "mock", text)
    assert (usage.input_tokens, usage.output_tokens) == (input_tokens, output_tokens)
    expected = (input_tokens * MOCK_INPUT_PRICE + output_tokens * MOCK_OUTPUT_PRICE) / 1_000_000
    assert usage.cost == expected > 0
    assert end["usage"]["status"] == "CANCELLED"
    assert end["usage"]["tokensEstimated"] is True
    assert Decimal(end["usage"]["cost"]) == usage.cost == Decimal(end["message"]["cost"])
    assert end["message"]["outputTokens"] == output_tokens


async def test_refused_and_allowed_subscribers(
    settings, make_user, make_workspace, add_member, db_engine
) -> None:
    """An outsider is refused NOT_FOUND (answer and conversation), a user message is refused
    INVALID_INPUT; a viewer of the workspace gets the stream, without its usage."""
    async with served(settings, mock_tokens_per_second=200) as server:
        turn = await started_turn(server, make_user, make_workspace, "Who may watch?")
        answer, question = turn["assistantMessage"], turn["userMessage"]
        outsider = await make_user("outsider")
        viewer = await make_user("viewer")
        await add_member(turn["owner"], turn["workspace"], viewer, "VIEWER")

        async with connect(server.ws_url, outsider.token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            [refused] = [event async for event in op.events("messageStream")]
            conv = await socket.start(
                "ConversationEvents", conversationId=turn["conversation"]["id"]
            )
            [refused_conversation] = [event async for event in conv.events("conversationEvents")]
        assert refused["__typename"] == "SubscriptionRefused", refused
        assert (refused["code"], refused["path"]) == ("NOT_FOUND", ["messageId"])
        assert refused_conversation["__typename"] == "SubscriptionRefused"
        assert refused_conversation["code"] == "NOT_FOUND"
        assert refused_conversation["path"] == ["conversationId"]

        async with connect(server.ws_url, turn["owner"].token) as socket:
            op = await socket.start("MessageStream", messageId=question["id"])
            [not_an_answer] = [event async for event in op.events("messageStream")]
        assert not_an_answer["__typename"] == "SubscriptionRefused", not_an_answer
        assert (not_an_answer["code"], not_an_answer["path"]) == ("INVALID_INPUT", ["messageId"])

        async with connect(server.ws_url, viewer.token) as socket:
            op = await socket.start("MessageStream", messageId=answer["id"])
            events = await op.until_end("messageStream")
    deltas, end = events[:-1], events[-1]
    assert end["__typename"] == "MessageCompleted", end
    assert contiguous_text(deltas) == end["message"]["content"]
    assert (await usage_of(db_engine, answer)).id is not None
    assert end["usage"] is None  # usage is for members and above, as over HTTP
