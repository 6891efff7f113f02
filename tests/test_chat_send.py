"""sendMessage, regenerateMessage and stopGeneration over HTTP, each checked against what
the database holds afterwards: messages, counts, usage logs and conversation totals."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.config import Settings
from synapse_gql.gql.relay import to_global_id
from synapse_gql.llm import ChatMessage
from synapse_gql.llm.mock_provider import mock_reply, split_tokens
from tests.chat_helpers import new_conversation, send, wait_for
from tests.conftest import Account
from tests.conversation_helpers import Team, make_team
from tests.generation_helpers import app_client, llm_global_id
from tests.gql_client import GraphQLClient
from tests.helpers import db_id, execute, fetch, scalar, user_error
from tests.llm_fakes import DEFAULT_TEXT, FakeHost
from tests.metering_helpers import insert_budget

MESSAGE_COLUMNS = (
    "m.id, m.role, m.status, m.content, m.author_id, m.input_tokens, m.output_tokens, m.cost,"
    " m.parent_id, m.reply_to_id, m.finish_reason, l.model_id AS llm"
)
FAKE_KEY = SecretStr("sk-test-key-0000000000000000")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No server-wide provider key; an unthrottled mock model, so answers end at once."""
    changes = {"mock_tokens_per_second": 0, "openai_api_key": None, "anthropic_api_key": None}
    return settings.model_copy(update=changes)


@pytest.fixture
async def team(make_user, make_workspace, add_member) -> Team:
    return await make_team(make_user, make_workspace, add_member)


@pytest.fixture
async def conversation(gql, team) -> dict:
    return await new_conversation(gql, team.owner, team.workspace)


def with_openai(host: FakeHost) -> dict[str, Any]:
    """Settings changes sending OpenAI calls to ``host`` with a server-wide key."""
    return {"provider_base_urls": {"openai": host.base_url}, "openai_api_key": FAKE_KEY}


async def messages(engine: AsyncEngine, conversation: dict) -> list[Any]:
    """The conversation's messages, oldest first, with their model's id."""
    return await fetch(
        engine,
        f"SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN llms l ON l.id = m.llm_id"
        " WHERE m.conversation_id = :c ORDER BY m.created_at, m.id",
        c=db_id(conversation["id"]),
    )


async def message_count(engine: AsyncEngine, conversation: dict) -> int:
    """The conversation's counted messages (``conversations.message_count``)."""
    sql = "SELECT message_count FROM conversations WHERE id = :c"
    return await scalar(engine, sql, c=db_id(conversation["id"]))


async def counts(engine: AsyncEngine, conversation: dict) -> tuple[int, int]:
    """(message rows, message_count) of the conversation: they must always agree."""
    return len(await messages(engine, conversation)), await message_count(engine, conversation)


async def usage_logs(engine: AsyncEngine) -> list[Any]:
    """Every usage log, oldest first."""
    return await fetch(
        engine,
        "SELECT message_id, conversation_id, model_id, status, input_tokens, output_tokens,"
        " tokens_estimated, cost FROM usage_logs ORDER BY created_at, id",
    )


async def ended(engine: AsyncEngine, message: dict) -> Any:
    """The message's row once it no longer streams."""

    async def closed() -> Any:
        sql = (
            f"SELECT {MESSAGE_COLUMNS} FROM messages m LEFT JOIN llms l ON l.id = m.llm_id"
            " WHERE m.id = :id"
        )
        [row] = await fetch(engine, sql, id=db_id(message["id"]))
        return None if row.status == "streaming" else row

    return await wait_for(closed)


async def assert_totals_are_usage_sums(engine: AsyncEngine, conversation: dict) -> None:
    """The conversation's token and cost totals equal the sums of its usage logs."""
    cid = db_id(conversation["id"])
    [totals] = await fetch(
        engine,
        "SELECT total_input_tokens, total_output_tokens, total_cost FROM conversations"
        " WHERE id = :c",
        c=cid,
    )
    [sums] = await fetch(
        engine,
        "SELECT coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),"
        " coalesce(sum(cost), 0) FROM usage_logs WHERE conversation_id = :c",
        c=cid,
    )
    assert tuple(totals) == tuple(sums)


async def regenerate(
    gql: GraphQLClient, actor: Account, message_id: str, **options: Any
) -> dict[str, Any]:
    given = {"messageId": message_id, **options}
    return (await gql.op("RegenerateMessage", actor.token, input=given))["regenerateMessage"]


async def stop(gql: GraphQLClient, actor: Account, message_id: str) -> dict[str, Any]:
    given = {"messageId": message_id}
    return (await gql.op("StopGeneration", actor.token, input=given))["stopGeneration"]


async def answered(gql: GraphQLClient, engine: AsyncEngine, actor: Account, chat: dict) -> dict:
    """A completed turn of ``chat``: the sendMessage payload, once its answer has ended."""
    turn = await send(gql, actor, chat, "Tell me about Synapse.")
    assert turn["__typename"] == "ChatTurn", turn
    assert (await ended(engine, turn["assistantMessage"])).status == "completed"
    return turn


# --- sendMessage -----------------------------------------------------------------------------


async def test_send_saves_both_messages_and_completes_the_answer(
    gql, team, conversation, db_engine
) -> None:
    """Given a member, when they send a question, then the question (COMPLETED) and a
    STREAMING answer replying to it come back at once, counted; the answer then completes
    with the mock's text, tokens, zero cost and the model synapse-dev, metered by one
    successful usage log that the conversation's totals add up."""
    question_text = "What is Synapse?"
    turn = await send(gql, team.member, conversation, question_text)

    assert turn["__typename"] == "ChatTurn", turn
    question, answer = turn["userMessage"], turn["assistantMessage"]
    assert (question["role"], question["status"], question["content"]) == (
        "USER",
        "COMPLETED",
        question_text,
    )
    assert question["author"] == {"id": team.member.id}
    assert (answer["role"], answer["status"], answer["content"]) == ("ASSISTANT", "STREAMING", "")
    assert answer["replyTo"] == {"id": question["id"], "content": question_text}
    assert (answer["parent"], answer["author"], answer["llm"]["modelId"]) == (
        None,
        None,
        "synapse-dev",
    )
    assert turn["conversation"]["id"] == conversation["id"]
    assert turn["conversation"]["messageCount"] == conversation["messageCount"] + 2

    row = await ended(db_engine, answer)
    expected = mock_reply([ChatMessage("user", question_text)])
    assert (row.status, row.content, row.llm, row.finish_reason) == (
        "completed",
        expected,
        "synapse-dev",
        "stop",
    )
    assert row.output_tokens == len(split_tokens(expected))
    assert row.input_tokens > 0
    assert row.cost == Decimal(0)
    assert row.reply_to_id == db_id(question["id"])
    [asked, replied] = await messages(db_engine, conversation)
    assert (asked.id, asked.role, asked.author_id) == (
        db_id(question["id"]),
        "user",
        db_id(team.member.id),
    )
    assert replied.id == db_id(answer["id"])
    assert await message_count(db_engine, conversation) == 2
    [log] = await usage_logs(db_engine)
    assert (log.message_id, log.conversation_id, log.model_id, log.status) == (
        db_id(answer["id"]),
        db_id(conversation["id"]),
        "synapse-dev",
        "success",
    )
    assert (log.input_tokens, log.output_tokens, log.cost) == (
        row.input_tokens,
        row.output_tokens,
        row.cost,
    )
    await assert_totals_are_usage_sums(db_engine, conversation)


REQUEST_ERRORS = [
    "blank content",
    "whitespace content",
    "content too long",
    "model id of another type",
    "model id not an id",
    "unknown model",
    "inactive model",
    "temperature 3",
    "maxTokens above the model's",
    "topP 0",
]


async def bad_request(case: str, engine: AsyncEngine) -> tuple[dict[str, Any], str, list[str]]:
    """The sendMessage input of ``case`` (beside conversationId), its code and path."""
    content = ["input", "content"]
    model = ["input", "model"]
    dev_limit = "SELECT max_output_tokens FROM llms WHERE model_id = 'synapse-dev'"
    match case:
        case "blank content":
            return {"content": ""}, "INVALID_INPUT", content
        case "whitespace content":
            return {"content": " \n\t "}, "INVALID_INPUT", content
        case "content too long":
            return {"content": "x" * 100_001}, "INVALID_INPUT", content
        case "model id of another type":
            user = to_global_id("User", uuid.uuid4())
            return {"model": user}, "INVALID_ID", model
        case "model id not an id":
            return {"model": "not-a-global-id"}, "INVALID_ID", model
        case "unknown model":
            return {"model": to_global_id("LLM", uuid.uuid4())}, "NOT_FOUND", model
        case "inactive model":
            await execute(engine, "UPDATE llms SET is_active = false WHERE model_id = 'gpt-4o'")
            return {"model": await llm_global_id(engine, "gpt-4o")}, "MODEL_INACTIVE", model
        case "temperature 3":
            return {"temperature": 3}, "INVALID_INPUT", ["input", "temperature"]
        case "maxTokens above the model's":
            limit = await scalar(engine, dev_limit)
            return {"maxTokens": limit + 1}, "INVALID_INPUT", ["input", "maxTokens"]
        case "topP 0":
            return {"topP": 0}, "INVALID_INPUT", ["input", "topP"]
    raise AssertionError(case)


@pytest.mark.parametrize("case", REQUEST_ERRORS)
async def test_request_errors_save_nothing(gql, team, conversation, db_engine, case) -> None:
    """Given a request wrong in itself (content, model id, inactive model, sampling out of
    range), when sent, then the typed error at its field, and nothing is saved, counted or
    metered."""
    given, code, path = await bad_request(case, db_engine)
    given = {"content": "A fine question", **given}
    content = given.pop("content")

    result = await send(gql, team.member, conversation, content, **given)

    user_error(result, code, path)
    assert await counts(db_engine, conversation) == (0, 0)
    assert await usage_logs(db_engine) == []


async def test_the_longest_content_is_accepted(gql, team, conversation, db_engine) -> None:
    """Given exactly 100 000 characters, when sent, then the question is kept whole."""
    turn = await send(gql, team.member, conversation, "y" * 100_000)
    assert turn["__typename"] == "ChatTurn", turn
    assert len(turn["userMessage"]["content"]) == 100_000
    assert await counts(db_engine, conversation) == (2, 2)


@pytest.mark.parametrize(
    ("who", "code"),
    [("viewer", "FORBIDDEN"), ("outsider", "NOT_FOUND"), ("anonymous", "UNAUTHENTICATED")],
)
async def test_only_members_may_send(gql, team, conversation, db_engine, who, code) -> None:
    """Given a viewer, an outsider and nobody, when they send, then FORBIDDEN, NOT_FOUND
    (the very error of an unknown conversation) and UNAUTHENTICATED; nothing saved."""
    result = await send(gql, team.caller(who), conversation, "Let me in")

    path = None if who == "anonymous" else ["input", "conversationId"]
    message = user_error(result, code, path)
    if who == "outsider":
        unknown = {"id": to_global_id("Conversation", uuid.uuid4())}
        missing = await send(gql, team.member, unknown, "Anyone there?")
        assert user_error(missing, "NOT_FOUND", path) == message
    assert await counts(db_engine, conversation) == (0, 0)
    assert await scalar(db_engine, "SELECT count(*) FROM messages") == 0
    assert await usage_logs(db_engine) == []


async def test_archived_conversation_refuses(gql, team, conversation, db_engine) -> None:
    """Given an archived conversation, when a member sends, then CONVERSATION_ARCHIVED and
    nothing saved."""
    archived = (await gql.op("ArchiveConversation", team.owner.token, id=conversation["id"]))[
        "archiveConversation"
    ]
    assert archived["status"] == "ARCHIVED", archived

    result = await send(gql, team.member, conversation, "Still there?")

    user_error(result, "CONVERSATION_ARCHIVED", ["input", "conversationId"])
    assert await counts(db_engine, conversation) == (0, 0)
    assert await usage_logs(db_engine) == []


async def test_missing_api_key_keeps_the_question(gql, team, conversation, db_engine) -> None:
    """Given an OpenAI model and no key anywhere, when asked with it, then API_KEY_MISSING
    naming OPENAI_API_KEY; the question is saved and counted, no answer, no usage."""
    gpt4o = await llm_global_id(db_engine, "gpt-4o")

    result = await send(gql, team.member, conversation, "Hello GPT", model=gpt4o)

    message = user_error(result, "API_KEY_MISSING", ["input", "model"])
    assert "OPENAI_API_KEY" in message
    [question] = await messages(db_engine, conversation)
    assert (question.role, question.status, question.content) == ("user", "completed", "Hello GPT")
    assert await message_count(db_engine, conversation) == 1
    assert await usage_logs(db_engine) == []


async def test_spent_budget_keeps_the_question(
    settings, gql, team, conversation, db_engine, openai_host
) -> None:
    """Given a first answer by gpt-4o, then a hard-stop budget of 0.0001 USD (less than the
    worst case of one more answer), when a second question is sent, then BUDGET_EXCEEDED;
    it is saved and counted, without an answer or a second usage log."""
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    async with app_client(settings, **with_openai(openai_host)) as client:
        first = await send(client, team.member, conversation, "Spend it", model=gpt4o)
        assert first["__typename"] == "ChatTurn", first
        row = await ended(db_engine, first["assistantMessage"])
        assert (row.status, row.content, row.llm) == ("completed", DEFAULT_TEXT, "gpt-4o")
        assert row.cost == (21 * 5 + 9 * 15) / Decimal(1_000_000)
        await insert_budget(db_engine, db_id(team.workspace["id"]), "0.0001", hard_stop=True)

        result = await send(client, team.member, conversation, "And more", model=gpt4o)

    user_error(result, "BUDGET_EXCEEDED", ["input", "conversationId"])
    rows = await messages(db_engine, conversation)
    assert [(r.role, r.content) for r in rows] == [
        ("user", "Spend it"),
        ("assistant", DEFAULT_TEXT),
        ("user", "And more"),
    ]
    assert await message_count(db_engine, conversation) == 3
    [log] = await usage_logs(db_engine)
    assert (log.message_id, log.status) == (db_id(first["assistantMessage"]["id"]), "success")
    assert openai_host.calls == 1
    await assert_totals_are_usage_sums(db_engine, conversation)


async def test_missing_key_of_the_configured_model_points_at_the_conversation(
    gql, team, db_engine
) -> None:
    """Given an agent on an OpenAI model and no key anywhere, when a member sends without a
    model, then API_KEY_MISSING naming OPENAI_API_KEY at the conversation (the request gave
    no model: like MODEL_INACTIVE and BUDGET_EXCEEDED of a configured model); the question
    is saved and counted, no answer."""
    mini = await llm_global_id(db_engine, "gpt-4o-mini")
    agent_input = {"workspaceId": team.workspace["id"], "name": "Keyless", "llmId": mini}
    agent = (await gql.op("CreateAgent", team.owner.token, input=agent_input))["createAgent"]
    chat = await new_conversation(gql, team.owner, team.workspace, agentId=agent["id"])

    result = await send(gql, team.member, chat, "Hello agent")

    message = user_error(result, "API_KEY_MISSING", ["input", "conversationId"])
    assert "OPENAI_API_KEY" in message
    assert [(r.role, r.content) for r in await messages(db_engine, chat)] == [
        ("user", "Hello agent")
    ]
    assert await message_count(db_engine, chat) == 1
    assert await usage_logs(db_engine) == []


# --- which model answers ---------------------------------------------------------------------


async def test_model_resolution_order(settings, gql, team, db_engine, openai_host) -> None:
    """Given nothing configured, then the server's default (synapse-dev) answers; given a
    workspace default, it answers; given an agent, its model beats the workspace's; given an
    override, it beats both. The provider is called with that model each time."""
    mini, turbo, legacy = [
        await llm_global_id(db_engine, m) for m in ("gpt-4o-mini", "gpt-4-turbo", "gpt-3.5-turbo")
    ]
    async with app_client(settings, **with_openai(openai_host)) as client:
        plain = await new_conversation(client, team.owner, team.workspace)

        async def answered_by(chat: dict, **options: Any) -> str:
            turn = await send(client, team.member, chat, "Which model are you?", **options)
            assert turn["__typename"] == "ChatTurn", turn
            row = await ended(db_engine, turn["assistantMessage"])
            assert row.status == "completed", row
            assert turn["assistantMessage"]["llm"]["modelId"] == row.llm
            return row.llm

        assert await answered_by(plain) == "synapse-dev"
        assert openai_host.calls == 0

        update = {"id": team.workspace["id"], "defaultLlmId": turbo}
        changed = (await client.op("UpdateWorkspace", team.owner.token, input=update))[
            "updateWorkspace"
        ]
        assert changed["defaultLlm"] == {"id": turbo, "modelId": "gpt-4-turbo"}, changed
        assert await answered_by(plain) == "gpt-4-turbo"
        assert openai_host.last.body["model"] == "gpt-4-turbo"

        agent_input = {"workspaceId": team.workspace["id"], "name": "Helper", "llmId": mini}
        agent = (await client.op("CreateAgent", team.owner.token, input=agent_input))["createAgent"]
        assert agent["__typename"] == "Agent", agent
        with_agent = await new_conversation(client, team.owner, team.workspace, agentId=agent["id"])
        assert await answered_by(with_agent) == "gpt-4o-mini"
        assert openai_host.last.body["model"] == "gpt-4o-mini"

        assert await answered_by(with_agent, model=legacy) == "gpt-3.5-turbo"
        assert openai_host.last.body["model"] == "gpt-3.5-turbo"
        assert await answered_by(plain, model=legacy) == "gpt-3.5-turbo"
        assert openai_host.last.body["model"] == "gpt-3.5-turbo"

    assert [body["model"] for body in (r.body for r in openai_host.requests)] == [
        "gpt-4-turbo",
        "gpt-4o-mini",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo",
    ]
    logs = await usage_logs(db_engine)
    assert [(log.model_id, log.status) for log in logs] == [
        ("synapse-dev", "success"),
        ("gpt-4-turbo", "success"),
        ("gpt-4o-mini", "success"),
        ("gpt-3.5-turbo", "success"),
        ("gpt-3.5-turbo", "success"),
    ]
    for chat in (plain, with_agent):
        await assert_totals_are_usage_sums(db_engine, chat)
        rows, counted = await counts(db_engine, chat)
        assert rows == counted


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"default_model": "nope/none"}, "nope/none"),
        ({"mock_provider_enabled": False}, "SYNAPSE_MOCK_PROVIDER_ENABLED"),
    ],
    ids=["unknown default model", "mock provider disabled"],
)
async def test_unusable_server_default_keeps_the_question(
    settings, team, conversation, db_engine, changes, named
) -> None:
    """Given no agent, no workspace default and a server default that cannot answer
    (SYNAPSE_DEFAULT_MODEL naming no catalog model, or the mock disabled), when a member
    sends, then MODEL_INACTIVE at the conversation naming the cause; the question is saved
    and counted, no answer, no usage."""
    async with app_client(settings, **changes) as client:
        result = await send(client, team.member, conversation, "Anyone?")

    message = user_error(result, "MODEL_INACTIVE", ["input", "conversationId"])
    assert named in message
    [question] = await messages(db_engine, conversation)
    assert (question.role, question.content) == ("user", "Anyone?")
    assert await message_count(db_engine, conversation) == 1
    assert await usage_logs(db_engine) == []


async def test_inactive_agent_model_keeps_the_question(gql, team, db_engine) -> None:
    """Given an agent whose model was retired since, when a member sends, then
    MODEL_INACTIVE at the conversation (not at the absent model input); the question is
    saved and counted, no answer."""
    mini = await llm_global_id(db_engine, "gpt-4o-mini")
    agent_input = {"workspaceId": team.workspace["id"], "name": "Old", "llmId": mini}
    agent = (await gql.op("CreateAgent", team.owner.token, input=agent_input))["createAgent"]
    chat = await new_conversation(gql, team.owner, team.workspace, agentId=agent["id"])
    await execute(db_engine, "UPDATE llms SET is_active = false WHERE model_id = 'gpt-4o-mini'")

    result = await send(gql, team.member, chat, "Hello agent")

    user_error(result, "MODEL_INACTIVE", ["input", "conversationId"])
    assert [(r.role, r.content) for r in await messages(db_engine, chat)] == [
        ("user", "Hello agent")
    ]
    assert await message_count(db_engine, chat) == 1
    assert await usage_logs(db_engine) == []


# --- regenerateMessage -----------------------------------------------------------------------


async def test_regenerate_an_answer_replaces_it(gql, team, conversation, db_engine) -> None:
    """Given a completed answer, when regenerated, then a new answer whose parent is the
    old one and which replies to the same question; one more message, its own usage log."""
    turn = await answered(gql, db_engine, team.member, conversation)
    question, old = turn["userMessage"], turn["assistantMessage"]

    result = await regenerate(gql, team.member, old["id"])

    assert result["__typename"] == "ChatTurn", result
    new = result["assistantMessage"]
    assert result["userMessage"]["id"] == question["id"]
    assert (new["status"], new["parent"]["id"], new["replyTo"]["id"]) == (
        "STREAMING",
        old["id"],
        question["id"],
    )
    assert result["conversation"]["messageCount"] == 3
    row = await ended(db_engine, new)
    assert (row.status, row.parent_id, row.reply_to_id) == (
        "completed",
        db_id(old["id"]),
        db_id(question["id"]),
    )
    assert row.content == mock_reply([ChatMessage("user", question["content"])])
    assert await counts(db_engine, conversation) == (3, 3)
    logs = await usage_logs(db_engine)
    assert [log.message_id for log in logs] == [db_id(old["id"]), db_id(new["id"])]
    await assert_totals_are_usage_sums(db_engine, conversation)


async def test_regenerate_a_question_answers_it_again(gql, team, conversation, db_engine) -> None:
    """Given an answered question, when the question itself is regenerated, then a new
    answer replies to it and replaces its current answer (its parent); the question is not
    duplicated."""
    turn = await answered(gql, db_engine, team.member, conversation)
    question, first = turn["userMessage"], turn["assistantMessage"]

    result = await regenerate(gql, team.owner, question["id"])

    assert result["__typename"] == "ChatTurn", result
    new = result["assistantMessage"]
    assert (result["userMessage"]["id"], new["replyTo"]["id"], new["parent"]["id"]) == (
        question["id"],
        question["id"],
        first["id"],
    )
    row = await ended(db_engine, new)
    assert (row.status, row.reply_to_id, row.parent_id) == (
        "completed",
        db_id(question["id"]),
        db_id(first["id"]),
    )
    rows = await messages(db_engine, conversation)
    assert [r.role for r in rows] == ["user", "assistant", "assistant"]
    assert await message_count(db_engine, conversation) == 3


async def test_regenerate_refuses_streaming_answers_and_viewers(
    settings, gql, team, conversation, db_engine
) -> None:
    """Given an answer still streaming, when regenerated, then INVALID_INPUT; given a
    viewer, when they regenerate a completed answer, then FORBIDDEN; nothing is added."""
    done = await answered(gql, db_engine, team.member, conversation)
    viewer = await regenerate(gql, team.viewer, done["assistantMessage"]["id"])
    user_error(viewer, "FORBIDDEN", ["input", "messageId"])
    assert await counts(db_engine, conversation) == (2, 2)

    async with app_client(settings, mock_tokens_per_second=1) as slow:
        turn = await send(slow, team.member, conversation, "Take your time")
        streaming = turn["assistantMessage"]
        result = await regenerate(slow, team.member, streaming["id"])
        user_error(result, "INVALID_INPUT", ["input", "messageId"])
        status = "SELECT status FROM messages WHERE id = :id"
        assert await scalar(db_engine, status, id=db_id(streaming["id"])) == "streaming"
        assert await counts(db_engine, conversation) == (4, 4)
        stopped = await stop(slow, team.member, streaming["id"])
        assert stopped["status"] == "CANCELLED", stopped
    assert await counts(db_engine, conversation) == (4, 4)


# --- stopGeneration --------------------------------------------------------------------------


async def test_stop_an_ended_answer_returns_it_unchanged(
    gql, team, conversation, db_engine
) -> None:
    """Given a completed answer, when stopped, then it comes back COMPLETED with its text,
    and no usage is added."""
    turn = await answered(gql, db_engine, team.member, conversation)
    before = await ended(db_engine, turn["assistantMessage"])

    result = await stop(gql, team.member, turn["assistantMessage"]["id"])

    assert result["__typename"] == "Message", result
    assert (result["status"], result["content"], result["outputTokens"]) == (
        "COMPLETED",
        before.content,
        before.output_tokens,
    )
    assert await ended(db_engine, turn["assistantMessage"]) == before
    assert len(await usage_logs(db_engine)) == 1


async def test_stop_a_question_is_invalid(gql, team, conversation, db_engine) -> None:
    """Given a user message, when stopped, then INVALID_INPUT at messageId; a viewer stopping
    an answer is FORBIDDEN."""
    turn = await answered(gql, db_engine, team.member, conversation)

    result = await stop(gql, team.member, turn["userMessage"]["id"])

    user_error(result, "INVALID_INPUT", ["input", "messageId"])
    refused = await stop(gql, team.viewer, turn["assistantMessage"]["id"])
    user_error(refused, "FORBIDDEN", ["input", "messageId"])
    assert (await ended(db_engine, turn["assistantMessage"])).status == "completed"
    assert len(await usage_logs(db_engine)) == 1


async def test_stop_a_streaming_answer_keeps_its_text_and_meters_it(
    settings, team, conversation, db_engine
) -> None:
    """Given an answer streaming at 5 tokens a second, when stopped once some text is
    saved, then CANCELLED with a non-empty prefix of the mock's reply, shorter than it; the
    call is metered as cancelled and the conversation totals add its usage up."""
    question = "Please write a long answer."
    full = mock_reply([ChatMessage("user", question)])
    changes = {"mock_tokens_per_second": 5, "stream_checkpoint_seconds": 0.1}
    async with app_client(settings, **changes) as slow:
        turn = await send(slow, team.member, conversation, question)
        assert turn["__typename"] == "ChatTurn", turn
        answer = turn["assistantMessage"]
        content = "SELECT content FROM messages WHERE id = :id"
        await wait_for(lambda: scalar(db_engine, content, id=db_id(answer["id"])))

        result = await stop(slow, team.member, answer["id"])

    assert result["__typename"] == "Message", result
    assert result["status"] == "CANCELLED", result
    text = result["content"]
    assert text, result
    assert full.startswith(text), (text, full)
    assert len(text) < len(full), (text, full)
    row = await ended(db_engine, answer)
    assert (row.status, row.content, row.finish_reason) == ("cancelled", text, "cancelled")
    [log] = await usage_logs(db_engine)
    assert (log.message_id, log.status) == (db_id(answer["id"]), "cancelled")
    assert log.output_tokens == row.output_tokens > 0
    assert log.input_tokens == row.input_tokens > 0
    assert await counts(db_engine, conversation) == (2, 2)
    await assert_totals_are_usage_sums(db_engine, conversation)
