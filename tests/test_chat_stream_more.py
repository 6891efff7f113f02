"""Answers streamed over WebSocket, continued: provider failures and success through the
OpenAI SDK (loopback fake), a conversation's events, and many answers at once."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from synapse_gql.llm import ChatMessage, count_tokens
from synapse_gql.realtime import conversation_channel
from tests.chat_helpers import new_conversation, send, served, wait_for
from tests.generation_helpers import fake_urls, llm_global_id
from tests.helpers import db_id, fetch, scalar
from tests.llm_fakes import Reply, fake_openai, openai_error
from tests.test_chat_stream import (
    contiguous_text,
    price_mock,
    started_turn,
    usage_of,
    wait_logged,
)
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, Operation, connect

OPENAI_KEY = SecretStr("sk-test-chat-stream-0000000001")
GPT4O_INPUT, GPT4O_OUTPUT = Decimal(5), Decimal(15)  # seeded list prices per million


def on_fake(url: str) -> dict[str, Any]:
    """Settings changes: OpenAI calls go to the fake at ``url``, with a server-wide key."""
    return {
        "provider_base_urls": fake_urls(url, "http://127.0.0.1:9"),
        "openai_api_key": OPENAI_KEY,
    }


async def ask_gpt4o(server, make_user, make_workspace, db_engine, content: str) -> dict:
    """A question to gpt-4o (model override) in a new conversation; the ChatTurn."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    conversation = await new_conversation(server.gql, owner, workspace)
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    turn = await send(server.gql, owner, conversation, content, model=gpt4o)
    assert turn["__typename"] == "ChatTurn", turn
    turn["owner"] = owner
    return turn


async def watch(server, turn: dict) -> list[dict]:
    """Every messageStream event of the turn's answer, through its end."""
    async with connect(server.ws_url, turn["owner"].token) as socket:
        op = await socket.start("MessageStream", messageId=turn["assistantMessage"]["id"])
        events = await op.until_end("messageStream")
        assert await op.next() is None
    return events


async def conversation_until_end(op: Operation) -> list[dict]:
    """conversationEvents through the first end of an answer."""
    received = []
    while True:
        data = await op.next()
        assert data is not None, received
        received.append(data["conversationEvents"])
        if received[-1]["__typename"] in ("MessageCompleted", "MessageFailed"):
            return received


async def test_a_rejected_key_fails_the_answer_with_provider_auth(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given OpenAI answering 401, then no delta and MessageFailed PROVIDER_AUTH naming the
    key's origin, with the call's usage log (status ERROR, nothing consumed)."""
    async with fake_openai() as host, served(settings, **on_fake(host.base_url)) as server:
        host.script = [openai_error(401, "Incorrect API key provided", code="invalid_api_key")]
        turn = await ask_gpt4o(server, make_user, make_workspace, db_engine, "Hello?")
        [end] = await watch(server, turn)
        assert host.calls == 1

    assert end["__typename"] == "MessageFailed", end
    assert end["code"] == "PROVIDER_AUTH"
    assert "SYNAPSE_OPENAI_API_KEY" in end["error"]
    assert end["sequence"] == 0
    assert (end["message"]["status"], end["message"]["content"]) == ("FAILED", "")
    assert end["message"]["errorCode"] == "PROVIDER_AUTH"
    usage = await usage_of(db_engine, turn["assistantMessage"])
    assert db_id(end["usage"]["id"]) == usage.id
    # The stored provider code ("AUTH") reads as the ErrorCode member.
    assert (end["usage"]["status"], end["usage"]["errorCode"]) == ("ERROR", "PROVIDER_AUTH")
    assert (usage.status, usage.input_tokens, usage.output_tokens) == ("error", 0, 0)
    assert usage.cost == 0


async def test_a_stream_broken_halfway_fails_with_the_partial_text(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given OpenAI dropping the connection after three chunks (no retry), then the deltas
    of those chunks, MessageFailed PROVIDER_UNAVAILABLE, the partial text kept and the call
    charged for the prompt and the partial reply, counted locally."""
    reply = Reply(text="alpha beta gamma delta epsilon zeta", break_after=3)
    question = "Break please"
    async with fake_openai() as host:
        host.script = [reply]
        async with served(settings, llm_retry_attempts=1, **on_fake(host.base_url)) as server:
            turn = await ask_gpt4o(server, make_user, make_workspace, db_engine, question)
            events = await watch(server, turn)
        assert host.calls == 1

    deltas, end = events[:-1], events[-1]
    partial = "".join(reply.chunks()[:3])
    assert contiguous_text(deltas) == partial == "alpha beta gamma"
    assert end["__typename"] == "MessageFailed", end
    assert end["code"] == "PROVIDER_UNAVAILABLE"
    assert end["sequence"] == deltas[-1]["sequence"] == end["message"]["streamSequence"]
    assert (end["message"]["status"], end["message"]["content"]) == ("FAILED", partial)
    usage = await usage_of(db_engine, turn["assistantMessage"])
    assert (usage.status, usage.error_code, usage.tokens_estimated) == (
        "error",
        "UNAVAILABLE",
        True,
    )
    input_tokens, _ = count_tokens("gpt-4o", "openai", [ChatMessage("user", question)])
    output_tokens, _ = count_tokens("gpt-4o", "openai", partial)
    assert (usage.input_tokens, usage.output_tokens) == (input_tokens, output_tokens)
    assert usage.cost == (input_tokens * GPT4O_INPUT + output_tokens * GPT4O_OUTPUT) / 1_000_000
    assert end["usage"]["tokensEstimated"] is True
    assert Decimal(end["usage"]["cost"]) == usage.cost == Decimal(end["message"]["cost"])


async def test_openai_chunks_become_deltas_in_order_with_reported_usage(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given OpenAI streaming a reply through the SDK, then each chunk's text is in the
    deltas in order (a delta may carry several whole chunks), they join to the reply, and the
    usage is the one the host reported, on the event, the message and the usage log."""
    reply = Reply(
        text="One two three, four five six seven. Eight nine ten eleven twelve!",
        input_tokens=33,
        output_tokens=17,
    )
    async with fake_openai() as host, served(settings, **on_fake(host.base_url)) as server:
        host.script = [reply]
        turn = await ask_gpt4o(server, make_user, make_workspace, db_engine, "Count to twelve")
        events = await watch(server, turn)
        body = host.last.body

    assert body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": "Count to twelve"}]
    deltas, end = events[:-1], events[-1]
    assert contiguous_text(deltas) == reply.text
    chunks = iter(reply.chunks())
    for delta in deltas:  # every delta is one or more whole chunks, in order
        joined = ""
        while joined != delta["text"]:
            joined += next(chunks)
            assert delta["text"].startswith(joined), (delta, joined)
    assert next(chunks, None) is None
    assert end["__typename"] == "MessageCompleted", end
    assert (end["message"]["status"], end["message"]["content"]) == ("COMPLETED", reply.text)
    assert (end["usage"]["inputTokens"], end["usage"]["outputTokens"]) == (33, 17)
    assert end["usage"]["tokensEstimated"] is False
    assert (end["message"]["inputTokens"], end["message"]["outputTokens"]) == (33, 17)
    usage = await usage_of(db_engine, turn["assistantMessage"])
    assert (usage.input_tokens, usage.output_tokens, usage.tokens_estimated) == (33, 17, False)
    assert usage.status == "success"
    assert usage.cost == (33 * GPT4O_INPUT + 17 * GPT4O_OUTPUT) / 1_000_000
    assert Decimal(end["usage"]["cost"]) == usage.cost


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_conversation_events_in_order_and_caught_up(
    settings, make_user, make_workspace, protocol
) -> None:
    """A conversation subscriber sees the question added, the answer added (streaming), its
    deltas and its end, in that order; one that subscribes while an answer streams gets
    that answer from sequence 1."""
    async with served(settings, mock_tokens_per_second=40) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        conversation = await new_conversation(server.gql, owner, workspace)
        channel = conversation_channel(db_id(conversation["id"]))
        broadcaster = server.app.state.synapse.realtime

        async def subscribed() -> bool:
            return broadcaster.subscriber_count(channel) == 1

        async with connect(server.ws_url, owner.token, protocol) as socket:
            op = await socket.start("ConversationEvents", conversationId=conversation["id"])
            await wait_for(subscribed)
            turn = await send(server.gql, owner, conversation, "First question")
            events = await conversation_until_end(op)
            await op.cancel()

            question, answer = turn["userMessage"], turn["assistantMessage"]
            added_question, added_answer, *deltas, end = events
            assert added_question["__typename"] == "MessageAdded", events
            assert added_question["message"]["id"] == question["id"]
            assert added_question["message"]["role"] == "USER"
            assert added_answer["__typename"] == "MessageAdded", events
            assert added_answer["message"]["id"] == answer["id"]
            assert added_answer["message"]["role"] == "ASSISTANT"
            assert added_answer["message"]["status"] == "STREAMING"
            assert {d["messageId"] for d in deltas} == {answer["id"]}
            assert end["__typename"] == "MessageCompleted", end
            assert end["message"]["id"] == answer["id"]
            assert end["message"]["content"] == contiguous_text(deltas)
            assert end["sequence"] == deltas[-1]["sequence"]

            later = await send(server.gql, owner, conversation, "Second question")
            await wait_logged(server, later["assistantMessage"], 3)
            op = await socket.start("ConversationEvents", conversationId=conversation["id"])
            caught_up = await conversation_until_end(op)
            await op.cancel()

    *deltas, end = caught_up
    assert {d["messageId"] for d in deltas} == {later["assistantMessage"]["id"]}
    assert end["__typename"] == "MessageCompleted", end
    assert end["message"]["content"] == contiguous_text(deltas)  # from sequence 1
    assert end["sequence"] == deltas[-1]["sequence"]


async def test_twenty_answers_at_once_are_each_streamed_and_metered(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given 20 questions sent at once into one conversation, each answer watched on one
    socket, then each ends with its own usage, and the conversation's totals, its per-model
    aggregate and the billing events add up exactly to the usage logs."""
    count = 20
    await price_mock(db_engine)
    async with served(settings, mock_tokens_per_second=100) as server:
        turn = await started_turn(server, make_user, make_workspace, "Question 0")
        owner, conversation = turn["owner"], turn["conversation"]
        others = await asyncio.gather(
            *(send(server.gql, owner, conversation, f"Question {i}") for i in range(1, count))
        )
        turns = [turn, *others]
        assert all(t["__typename"] == "ChatTurn" for t in turns), turns
        async with connect(server.ws_url, owner.token) as socket:
            ops = [
                await socket.start("MessageStream", messageId=t["assistantMessage"]["id"])
                for t in turns
            ]
            streams = await asyncio.gather(*(op.until_end("messageStream") for op in ops))

    for one, events in zip(turns, streams, strict=True):
        deltas, end = events[:-1], events[-1]
        assert end["__typename"] == "MessageCompleted", end
        assert end["message"]["id"] == one["assistantMessage"]["id"]
        assert end["message"]["content"] == contiguous_text(deltas)
        usage = await usage_of(db_engine, one["assistantMessage"])
        assert db_id(end["usage"]["id"]) == usage.id
        assert (end["usage"]["inputTokens"], end["usage"]["outputTokens"]) == (
            usage.input_tokens,
            usage.output_tokens,
        )
        assert Decimal(end["usage"]["cost"]) == usage.cost > 0

    conversation_id = db_id(conversation["id"])
    [totals] = await fetch(
        db_engine,
        "SELECT message_count, total_input_tokens, total_output_tokens, total_cost"
        " FROM conversations WHERE id = :c",
        c=conversation_id,
    )
    [logs] = await fetch(
        db_engine,
        "SELECT count(*) AS calls, sum(input_tokens) AS input, sum(output_tokens) AS output,"
        " sum(cost) AS cost FROM usage_logs WHERE conversation_id = :c",
        c=conversation_id,
    )
    assert totals.message_count == 2 * count
    assert (
        await scalar(
            db_engine, "SELECT count(*) FROM messages WHERE conversation_id = :c", c=conversation_id
        )
        == 2 * count
    )
    assert logs.calls == count
    assert (totals.total_input_tokens, totals.total_output_tokens, totals.total_cost) == (
        logs.input,
        logs.output,
        logs.cost,
    )
    [per_llm] = await fetch(
        db_engine,
        "SELECT call_count, input_tokens, output_tokens, total_cost FROM conversation_llms"
        " WHERE conversation_id = :c",
        c=conversation_id,
    )
    assert tuple(per_llm) == (count, logs.input, logs.output, logs.cost)
    [billing] = await fetch(
        db_engine,
        "SELECT count(*) AS events, sum(amount) AS amount FROM billing_events"
        " WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = :c)",
        c=conversation_id,
    )
    assert (billing.events, billing.amount) == (count, logs.cost)


async def test_the_end_event_carries_the_fallback_calls_usage(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given OpenAI answering 503 and the workspace falling back on the mock model, when
    answers are watched, then each MessageCompleted carries the usage log of the call that
    wrote the answer (the mock's success), not the failed first call's, though both are
    metered in the same transaction. (Several answers: the two rows' ids are random.)"""
    answers = 8
    async with fake_openai() as host:
        host.default = openai_error(503, "overloaded", kind="server_error")
        changes = {"llm_retry_attempts": 1, "mock_tokens_per_second": 0, **on_fake(host.base_url)}
        async with served(settings, **changes) as server:
            owner = await make_user("owner")
            workspace = await make_workspace(owner)
            mock = await llm_global_id(db_engine, "synapse-dev")
            update = {"id": workspace["id"], "fallbackLlmId": mock}
            updated = await server.gql.op("UpdateWorkspace", owner.token, input=update)
            assert updated["updateWorkspace"]["__typename"] == "Workspace", updated
            conversation = await new_conversation(server.gql, owner, workspace)
            gpt4o = await llm_global_id(db_engine, "gpt-4o")
            ends = []
            for i in range(answers):
                turn = await send(server.gql, owner, conversation, f"Q{i}", model=gpt4o)
                assert turn["__typename"] == "ChatTurn", turn
                turn["owner"] = owner
                ends.append((turn["assistantMessage"], (await watch(server, turn))[-1]))
        assert host.calls == answers

    for answer, end in ends:
        assert end["__typename"] == "MessageCompleted", end
        assert end["message"]["llm"]["modelId"] == "synapse-dev"
        logs = await fetch(
            db_engine,
            "SELECT id, model_id, status FROM usage_logs WHERE message_id = :m",
            m=db_id(answer["id"]),
        )
        assert sorted((row.model_id, row.status) for row in logs) == [
            ("gpt-4o", "error"),
            ("synapse-dev", "success"),
        ]
        [served_by] = [row for row in logs if row.status == "success"]
        assert end["usage"]["llm"]["modelId"] == "synapse-dev", (end["usage"], logs)
        assert db_id(end["usage"]["id"]) == served_by.id
