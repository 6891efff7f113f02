"""The generate mutation: mock and real providers (loopback fakes through the real SDKs), key
resolution, metering of every call made, and the callers and budgets that stop a call."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import SecretStr

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from synapse_gql.gql.relay import decode_id
from synapse_gql.llm import ChatMessage, count_tokens
from synapse_gql.llm.mock_provider import mock_reply, split_tokens
from tests.generation_helpers import (
    Team,
    app_client,
    fake_urls,
    generate,
    llm_global_id,
    make_team,
    running,
    usage_count,
    usage_rows,
)
from tests.helpers import execute, scalar, user_error
from tests.llm_fakes import DEFAULT_TEXT, FakeHost, sent_key
from tests.metering_helpers import insert_budget

USER_KEY = "sk-user-key-0000000000001111"
WORKSPACE_KEY = "sk-workspace-key-00000002222"
GLOBAL_KEY = SecretStr("sk-global-key-0000000003333")


@pytest.fixture
def settings(settings: Settings, openai_host: FakeHost, anthropic_host: FakeHost) -> Settings:
    """The test settings with OpenAI and Anthropic on the fakes, no server-wide keys, an
    unthrottled mock."""
    changes = {
        "provider_base_urls": fake_urls(openai_host.base_url, anthropic_host.base_url),
        "openai_api_key": None,
        "anthropic_api_key": None,
        "mock_tokens_per_second": 0,
    }
    return settings.model_copy(update=changes)


@pytest.fixture
async def app(settings: Settings):
    async with running(create_app(settings)) as application:
        yield application


@pytest.fixture
async def team(make_user, make_workspace) -> Team:
    return await make_team(make_user, make_workspace)


async def test_the_mock_answers_without_any_key(gql, team, db_engine) -> None:
    """Given no key anywhere, when a member generates with the mock model, then the reply is
    the mock's, metered with exact tokens, zero cost and key source NONE."""
    mock = await llm_global_id(db_engine, "synapse-dev")

    result = await generate(gql, team.owner.token, team.workspace, mock, prompt="Hi there")

    assert result["__typename"] == "Generation", result
    sent = [ChatMessage("user", "Hi there")]
    expected = mock_reply(sent)
    assert (result["text"], result["finishReason"]) == (expected, "stop")
    assert result["outputTokens"] == len(split_tokens(expected))
    assert result["inputTokens"] == count_tokens("synapse-dev", "mock", sent)[0]
    assert (result["tokensEstimated"], Decimal(result["cost"])) == (False, Decimal(0))
    assert 0 <= result["timeToFirstTokenMs"] <= result["latencyMs"]
    log = result["usageLog"]
    assert (log["status"], log["apiKeySource"], log["llm"]["id"]) == ("SUCCESS", "NONE", mock)
    [row] = await usage_rows(db_engine)
    assert (row.status, row.api_key_source, row.error_code) == ("success", "none", None)
    assert (row.input_tokens, row.output_tokens) == (result["inputTokens"], result["outputTokens"])
    assert (row.cost, row.conversation_id, row.message_id) == (Decimal(0), None, None)
    assert row.parameters == {"system_prompt": False}
    assert await scalar(db_engine, "SELECT count(*) FROM billing_events") == 0


async def test_a_disabled_mock_is_an_inactive_model(settings, team, db_engine) -> None:
    """Given a server with the mock disabled, when a member calls it, then MODEL_INACTIVE."""
    mock = await llm_global_id(db_engine, "synapse-dev")

    async with app_client(settings, mock_provider_enabled=False) as client:
        result = await generate(client, team.owner.token, team.workspace, mock)

    message = user_error(result, "MODEL_INACTIVE", ["input", "model"])
    assert "disabled" in message
    assert await usage_count(db_engine) == 0


async def test_openai_keys_resolve_user_then_workspace_then_global(
    settings, gql, team, openai_host, db_engine
) -> None:
    """Given a user variable, a workspace secret and a server key, when the owner generates,
    then the user's key is sent; without it the workspace's; without both the server's. Each
    call is priced at gpt-4o's 5/15 USD per million from the host's usage."""
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    owner, workspace = team.owner, team.workspace
    await gql.op("SetVariable", owner.token, input={"key": "OPENAI_API_KEY", "value": USER_KEY})
    secret = {"workspaceId": workspace["id"], "key": "OPENAI_API_KEY", "value": WORKSPACE_KEY}
    await gql.op("SetWorkspaceSecret", owner.token, input=secret)
    sources = []
    async with app_client(settings, openai_api_key=GLOBAL_KEY) as client:
        for step in ("user", "workspace", "global"):
            if step == "workspace":
                await gql.op("DeleteVariable", owner.token, key="OPENAI_API_KEY")
            if step == "global":
                removal = {"workspaceId": workspace["id"], "key": "OPENAI_API_KEY"}
                await gql.op("DeleteWorkspaceSecret", owner.token, input=removal)
            result = await generate(
                client, owner.token, workspace, gpt4o, maxTokens=50, temperature="0.5"
            )
            assert result["__typename"] == "Generation", result
            sources.append((sent_key(openai_host.last), result["usageLog"]["apiKeySource"]))

    assert sources == [
        (USER_KEY, "USER"),
        (WORKSPACE_KEY, "WORKSPACE"),
        (GLOBAL_KEY.get_secret_value(), "GLOBAL"),
    ]
    assert (result["text"], result["inputTokens"], result["outputTokens"]) == (DEFAULT_TEXT, 21, 9)
    assert Decimal(result["cost"]) == Decimal("0.00024")  # (21 * 5 + 9 * 15) / 1e6
    body = openai_host.last.body
    assert (body["model"], body["max_completion_tokens"], body["temperature"]) == (
        "gpt-4o",
        50,
        0.5,
    )
    rows = await usage_rows(db_engine)
    assert [r.api_key_source for r in rows] == ["user", "workspace", "global"]
    assert {(r.cost, r.tokens_estimated, r.status) for r in rows} == {
        (Decimal("0.00024"), False, "success")
    }
    assert rows[0].parameters == {"system_prompt": False, "max_tokens": 50, "temperature": 0.5}
    assert await scalar(db_engine, "SELECT count(*) FROM billing_events") == 3


async def test_anthropic_gets_the_system_prompt_as_system(
    gql, team, anthropic_host, db_engine
) -> None:
    """Given an Anthropic key variable, when generating with a system prompt and messages,
    then the fake receives the system prompt as `system` and the turns as messages."""
    haiku = await llm_global_id(db_engine, "claude-3-haiku-20240307")
    key = {"key": "ANTHROPIC_API_KEY", "value": USER_KEY}
    await gql.op("SetVariable", team.owner.token, input=key)
    turns = [{"role": "USER", "content": "Hi"}, {"role": "ASSISTANT", "content": "Hello!"}]
    turns.append({"role": "USER", "content": "How are you?"})

    result = await generate(
        gql, team.owner.token, team.workspace, haiku, messages=turns, systemPrompt="Be brief."
    )

    assert result["__typename"] == "Generation", result
    body = anthropic_host.last.body
    assert body["system"] == "Be brief."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert sent_key(anthropic_host.last) == USER_KEY
    assert (result["text"], result["finishReason"]) == (DEFAULT_TEXT, "end_turn")
    assert Decimal(result["cost"]) == Decimal("0.0000165")  # (21 * 0.25 + 9 * 1.25) / 1e6
    [row] = await usage_rows(db_engine)
    assert (row.provider, row.api_key_source, row.parameters) == (
        "anthropic",
        "user",
        {"system_prompt": True},
    )


async def test_no_key_names_the_variable_and_calls_nothing(
    gql, team, openai_host, db_engine
) -> None:
    """Given no OpenAI key anywhere, when generating with gpt-4o, then API_KEY_MISSING names
    OPENAI_API_KEY, the provider is not called and nothing is metered."""
    gpt4o = await llm_global_id(db_engine, "gpt-4o")

    result = await generate(gql, team.owner.token, team.workspace, gpt4o)

    message = user_error(result, "API_KEY_MISSING", ["input", "model"])
    assert "OPENAI_API_KEY" in message
    assert "SYNAPSE_OPENAI_API_KEY" in message
    assert openai_host.calls == 0
    assert await usage_count(db_engine) == 0


async def test_denied_callers_reach_no_provider(
    settings, team, make_user, add_member, openai_host, db_engine
) -> None:
    """Given a viewer, a non-member and an anonymous caller, when they generate (a server key
    is set), then FORBIDDEN, NOT_FOUND and UNAUTHENTICATED, with no call and no usage."""
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    viewer, outsider = await make_user("viewer"), await make_user("outsider")
    await add_member(team.owner, team.workspace, viewer, "VIEWER")

    async with app_client(settings, openai_api_key=GLOBAL_KEY) as client:
        as_viewer = await generate(client, viewer.token, team.workspace, gpt4o)
        as_outsider = await generate(client, outsider.token, team.workspace, gpt4o)
        anonymous = await generate(client, None, team.workspace, gpt4o)

    user_error(as_viewer, "FORBIDDEN", ["input", "workspaceId"])
    user_error(as_outsider, "NOT_FOUND", ["input", "workspaceId"])
    user_error(anonymous, "UNAUTHENTICATED")
    assert openai_host.calls == 0
    assert await usage_count(db_engine) == 0


async def test_a_hard_stopped_budget_blocks_the_call(
    settings, team, openai_host, db_engine
) -> None:
    """Given a spent budget with a hard stop, when a member generates, then BUDGET_EXCEEDED
    and the provider is not called."""
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    workspace_id = decode_id(team.workspace["id"], "Workspace")
    await insert_budget(db_engine, workspace_id, "0", hard_stop=True)

    async with app_client(settings, openai_api_key=GLOBAL_KEY) as client:
        result = await generate(client, team.owner.token, team.workspace, gpt4o)

    user_error(result, "BUDGET_EXCEEDED", ["input", "workspaceId"])
    assert openai_host.calls == 0
    assert await usage_count(db_engine) == 0


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"prompt": "a", "messages": [{"role": "USER", "content": "b"}]}, ["input", "prompt"]),
        ({"prompt": "x" * 200_001}, ["input", "prompt"]),
        ({"prompt": "   "}, ["input", "prompt"]),
        ({"messages": [{"role": "SYSTEM", "content": "only"}]}, ["input", "messages"]),
        ({"maxTokens": 16_385}, ["input", "maxTokens"]),
        ({"temperature": "2.5"}, ["input", "temperature"]),
        ({"topP": "0"}, ["input", "topP"]),
    ],
)
async def test_invalid_input_calls_nothing(
    settings, team, openai_host, db_engine, fields, path
) -> None:
    """Given a bad prompt, messages or parameter, then INVALID_INPUT at its path, no call."""
    gpt4o = await llm_global_id(db_engine, "gpt-4o")

    async with app_client(settings, openai_api_key=GLOBAL_KEY) as client:
        result = await generate(client, team.owner.token, team.workspace, gpt4o, **fields)

    user_error(result, "INVALID_INPUT", path)
    assert openai_host.calls == 0
    assert await usage_count(db_engine) == 0


async def test_an_inactive_model_is_refused(gql, team, db_engine) -> None:
    """Given a retired model, when a member generates with it, then MODEL_INACTIVE."""
    await execute(db_engine, "UPDATE llms SET is_active = false WHERE model_id = 'synapse-dev'")
    mock = await llm_global_id(db_engine, "synapse-dev")

    result = await generate(gql, team.owner.token, team.workspace, mock)

    user_error(result, "MODEL_INACTIVE", ["input", "model"])
    assert await usage_count(db_engine) == 0
