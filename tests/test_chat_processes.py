"""Answers across server processes: two real ``uvicorn`` processes on one database and one
Redis, like two workers of a deployment. What one process generates, the other streams;
a stop sent to either reaches the process that generates the answer."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from decimal import Decimal
from typing import Any

from synapse_gql.llm.mock_provider import mock_reply
from synapse_gql.llm.types import ChatMessage
from synapse_gql.realtime import conversation_channel
from synapse_gql.realtime.stream_log import log_key
from tests.chat_helpers import new_conversation, send, wait_for
from tests.helpers import db_id, fetch
from tests.realtime_helpers import numsub, redis_client
from tests.server_process import server_processes
from tests.ws_client import Operation, connect

STOP_WAIT_SECONDS = 30


def full_reply(question: str) -> str:
    """What the mock model answers to the first question of a conversation."""
    return mock_reply([ChatMessage("user", question)])


def assert_deltas_continue(deltas: list[dict[str, Any]], first: int = 1) -> str:
    """Deltas numbered ``first``, ``first + 1``... each starting where the previous ended;
    their text."""
    assert [d["sequence"] for d in deltas] == list(range(first, first + len(deltas))), deltas
    for previous, delta in itertools.pairwise(deltas):
        assert delta["offset"] == previous["offset"] + len(previous["text"]), (previous, delta)
    return "".join(d["text"] for d in deltas)


async def conversation_until_end(op: Operation, answer_id: str) -> list[dict[str, Any]]:
    """``conversationEvents`` (which never completes) up to the end of ``answer_id``."""
    received = []
    async for event in op.events("conversationEvents"):
        received.append(event)
        ended = event["__typename"] in ("MessageCompleted", "MessageFailed")
        if ended and event["message"]["id"] == answer_id:
            return received
    raise AssertionError(f"the subscription completed before the answer ended: {received}")


async def usage_logs(db_engine, message_id: str) -> list[Any]:
    return await fetch(
        db_engine,
        "SELECT status, input_tokens, output_tokens, tokens_estimated, cost, error_code"
        " FROM usage_logs WHERE message_id = :m",
        m=db_id(message_id),
    )


async def assert_totals_match_usage(db_engine, conversation_id: str) -> None:
    [totals] = await fetch(
        db_engine,
        "SELECT c.total_input_tokens, c.total_output_tokens, c.total_cost,"
        " (SELECT coalesce(sum(input_tokens), 0) FROM usage_logs WHERE conversation_id = c.id),"
        " (SELECT coalesce(sum(output_tokens), 0) FROM usage_logs WHERE conversation_id = c.id),"
        " (SELECT coalesce(sum(cost), 0) FROM usage_logs WHERE conversation_id = c.id)"
        " FROM conversations c WHERE c.id = :c",
        c=db_id(conversation_id),
    )
    assert totals[0] == totals[3], totals
    assert totals[1] == totals[4], totals
    assert Decimal(totals[2]) == Decimal(totals[5]), totals


async def test_answer_generated_on_one_process_streams_on_the_other(
    settings, redis_url, tmp_path, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    question = "Stream across processes"
    servers = {"A": {"mock_tokens_per_second": 20}, "B": {"mock_tokens_per_second": 20}}
    async with (
        server_processes(settings, redis_url, tmp_path, servers) as (a, b),
        connect(b.ws_url, owner.token) as news,
        connect(b.ws_url, owner.token) as socket,
    ):
        events = await news.start("ConversationEvents", conversationId=conversation["id"])
        channel = conversation_channel(db_id(conversation["id"]))
        # Only B subscribes to the conversation over Redis: wait until it does.
        await wait_for(lambda: _subscribed(redis_url, channel))

        turn = await send(a.gql, owner, conversation, question)
        assert turn["__typename"] == "ChatTurn", turn
        answer = turn["assistantMessage"]
        assert answer["status"] == "STREAMING"
        stream = await socket.start("MessageStream", messageId=answer["id"])
        streamed = await stream.until_end("messageStream")
        assert await stream.next() is None  # the stream completes after its end
        news_events = await conversation_until_end(events, answer["id"])

    *deltas, end = streamed
    text = assert_deltas_continue(deltas)
    assert len(deltas) >= 2
    assert end["__typename"] == "MessageCompleted", end
    assert end["sequence"] == len(deltas) == end["message"]["streamSequence"]
    assert end["message"]["status"] == "COMPLETED"
    assert end["message"]["content"] == text == full_reply(question)
    assert end["usage"]["status"] == "SUCCESS"
    [(content, status)] = await fetch(
        db_engine, "SELECT content, status FROM messages WHERE id = :m", m=db_id(answer["id"])
    )
    assert (content, status) == (text, "completed")

    kinds = [e["__typename"] for e in news_events]
    assert kinds[:2] == ["MessageAdded", "MessageAdded"], kinds
    added = [e["message"] for e in news_events[:2]]
    assert [(m["id"], m["role"]) for m in added] == [
        (turn["userMessage"]["id"], "USER"),
        (answer["id"], "ASSISTANT"),
    ]
    assert added[1]["status"] == "STREAMING"
    assert kinds[-1] == "MessageCompleted"
    news_deltas = news_events[2:-1]
    assert all(e["__typename"] == "MessageDelta" for e in news_deltas), kinds
    assert all(e["messageId"] == answer["id"] for e in news_deltas)
    assert news_deltas == deltas
    assert news_events[-1]["message"]["content"] == text
    assert news_events[-1]["sequence"] == len(deltas)

    [usage] = await usage_logs(db_engine, answer["id"])
    assert usage.status == "success"


async def _subscribed(redis_url: str, channel: str) -> bool:
    return await numsub(redis_url, channel) >= 1


async def test_stop_sent_to_the_other_process_stops_the_generation(
    settings, redis_url, tmp_path, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    question = "Stop this answer from B"
    servers = {
        "A": {"mock_tokens_per_second": 5, "stop_wait_seconds": STOP_WAIT_SECONDS},
        "B": {"mock_tokens_per_second": 5, "stop_wait_seconds": STOP_WAIT_SECONDS},
    }
    async with server_processes(settings, redis_url, tmp_path, servers) as (a, b):
        turn = await send(a.gql, owner, conversation, question)
        answer = turn["assistantMessage"]
        async with connect(b.ws_url, owner.token) as socket:
            stream = await socket.start("MessageStream", messageId=answer["id"])
            first = [(await stream.next())["messageStream"] for _ in range(3)]
            assert [e["__typename"] for e in first] == ["MessageDelta"] * 3, first

            loop = asyncio.get_running_loop()
            asked = loop.time()
            stopped = (
                await b.gql.op("StopGeneration", owner.token, input={"messageId": answer["id"]})
            )["stopGeneration"]
            took = loop.time() - asked
            rest = await stream.until_end("messageStream")
            assert await stream.next() is None
        # The answer would have gone on for many more seconds: it did not.
        [(status_after,)] = await fetch(
            db_engine, "SELECT status FROM messages WHERE id = :m", m=db_id(answer["id"])
        )

    assert stopped["__typename"] == "Message", stopped
    assert stopped["status"] == "CANCELLED"
    # Closed by A's generation (the fallback close after the wait would not say "cancelled"
    # as the finish reason, and would come only after stop_wait_seconds).
    assert stopped["finishReason"] == "cancelled", stopped
    assert took < STOP_WAIT_SECONDS / 2, took
    content = stopped["content"]
    reply = full_reply(question)
    assert content
    assert len(content) < len(reply)
    assert reply.startswith(content)
    assert status_after == "cancelled"

    *more, end = rest
    text = assert_deltas_continue(first + more)
    assert end["__typename"] == "MessageCompleted", end
    assert end["message"]["status"] == "CANCELLED"
    assert end["message"]["content"] == text == content
    assert end["sequence"] == len(first + more) == stopped["streamSequence"]
    assert end["usage"]["status"] == "CANCELLED"

    # Both processes are stopped now (their shutdown closes nothing more): one call, one log.
    [usage] = await usage_logs(db_engine, answer["id"])
    assert usage.status == "cancelled"
    assert usage.output_tokens > 0
    assert usage.input_tokens > 0
    assert (stopped["inputTokens"], stopped["outputTokens"]) == (
        usage.input_tokens,
        usage.output_tokens,
    )
    await assert_totals_match_usage(db_engine, conversation["id"])


async def test_late_join_on_the_other_process(
    settings, redis_url, tmp_path, gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(gql, owner, workspace)
    question = "Join this answer late"
    servers = {"A": {"mock_tokens_per_second": 10}, "B": {"mock_tokens_per_second": 10}}
    async with server_processes(settings, redis_url, tmp_path, servers) as (a, b):
        turn = await send(a.gql, owner, conversation, question)
        answer = turn["assistantMessage"]
        message_id = db_id(answer["id"])
        await wait_for(lambda: _logged_at_least(redis_url, message_id, 3))
        async with connect(b.ws_url, owner.token) as socket:
            news = await socket.start("ConversationEvents", conversationId=conversation["id"])
            whole = await socket.start("MessageStream", messageId=answer["id"])
            resumed = await socket.start("MessageStream", messageId=answer["id"], afterSequence=2)
            whole_events = await whole.until_end("messageStream")
            resumed_events = await resumed.until_end("messageStream")
            assert await whole.next() is None
            assert await resumed.next() is None
            news_events = await conversation_until_end(news, answer["id"])

    reply = full_reply(question)
    *deltas, end = whole_events
    assert assert_deltas_continue(deltas) == reply
    assert end["__typename"] == "MessageCompleted"
    assert end["message"]["content"] == reply
    assert end["sequence"] == len(deltas)

    *later, resumed_end = resumed_events
    assert later == deltas[2:]
    assert resumed_end["sequence"] == len(deltas)
    assert resumed_end["message"]["content"] == reply

    # Joined while the answer streamed: caught up from its start, then live, then the end.
    *news_deltas, news_end = news_events
    assert news_deltas == deltas
    assert news_end["__typename"] == "MessageCompleted"
    assert news_end["message"]["content"] == reply

    [usage] = await usage_logs(db_engine, answer["id"])
    assert usage.status == "success"


async def _logged_at_least(redis_url: str, message_id: uuid.UUID, count: int) -> bool:
    async with redis_client(redis_url) as client:
        return await client.llen(log_key(message_id)) >= count
