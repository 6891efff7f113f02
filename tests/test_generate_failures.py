"""Failed and cancelled generate calls: each is metered in a committed usage row although
the mutation answers with an error, charged for the tokens it consumed."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from pydantic import SecretStr

from synapse_gql.llm import ChatMessage, count_tokens
from synapse_gql.llm.mock_provider import MockProvider
from tests.generation_helpers import (
    Team,
    app_client,
    generate,
    llm_global_id,
    make_team,
    usage_rows,
)
from tests.helpers import user_error
from tests.llm_fakes import FakeHost, Reply, openai_error

GLOBAL_KEY = SecretStr("sk-global-key-0000000003333")
PROMPT = "Tell me about the weather."


@pytest.fixture
async def team(make_user, make_workspace) -> Team:
    return await make_team(make_user, make_workspace)


def on_fake(openai_host: FakeHost) -> dict:
    """Settings changes: OpenAI on the fake, with a server-wide key."""
    return {"provider_base_urls": {"openai": openai_host.base_url}, "openai_api_key": GLOBAL_KEY}


async def call_gpt4o(settings, team: Team, openai_host: FakeHost, db_engine, **changes) -> dict:
    """Generate once with gpt-4o on the fake, under settings with ``changes``."""
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    async with app_client(settings, **on_fake(openai_host), **changes) as client:
        return await generate(client, team.owner.token, team.workspace, gpt4o, prompt=PROMPT)


async def test_a_rejected_key_is_provider_auth_and_metered(
    settings, team, openai_host, db_engine
) -> None:
    """Given a host answering 401, when generating, then PROVIDER_AUTH naming the key's
    origin, no retry, and one committed error row that consumed nothing."""
    openai_host.script = [openai_error(401, "Incorrect API key provided", code="invalid_api_key")]

    result = await call_gpt4o(settings, team, openai_host, db_engine)

    message = user_error(result, "PROVIDER_AUTH", ["input", "model"])
    assert "SYNAPSE_OPENAI_API_KEY" in message
    assert openai_host.calls == 1
    [row] = await usage_rows(db_engine)
    assert (row.status, row.error_code, row.api_key_source) == ("error", "AUTH", "global")
    assert (row.input_tokens, row.output_tokens, row.cost) == (0, 0, Decimal(0))
    assert "Incorrect API key" in row.error_message


async def test_a_rate_limit_is_retried_into_success(settings, team, openai_host, db_engine) -> None:
    """Given a host answering 429 once, when generating, then the retry succeeds: the
    refused attempt leaves a zero-cost error row, the second is metered as a success."""
    openai_host.script = [openai_error(429, "Rate limit reached", code="rate_limit_exceeded")]

    result = await call_gpt4o(settings, team, openai_host, db_engine)

    assert result["__typename"] == "Generation", result
    assert openai_host.calls == 2
    refused, row = await usage_rows(db_engine)
    assert (refused.status, refused.error_code, refused.cost) == ("error", "RATE_LIMIT", 0)
    assert (refused.input_tokens, refused.output_tokens) == (0, 0)
    assert (row.status, row.input_tokens, row.output_tokens) == ("success", 21, 9)


async def test_an_unavailable_host_fails_after_the_configured_attempts(
    settings, team, openai_host, db_engine
) -> None:
    """Given a host answering 500 and two attempts configured, when generating, then two
    requests, PROVIDER_UNAVAILABLE and an error row per attempt, each with zero tokens."""
    openai_host.default = openai_error(500, "The server had an error", kind="server_error")

    result = await call_gpt4o(settings, team, openai_host, db_engine, llm_retry_attempts=2)

    user_error(result, "PROVIDER_UNAVAILABLE", ["input", "model"])
    assert openai_host.calls == 2
    rows = await usage_rows(db_engine)
    assert [(r.status, r.error_code, r.output_tokens) for r in rows] == [
        ("error", "UNAVAILABLE", 0)
    ] * 2


async def test_a_rate_limit_that_persists_is_provider_rate_limited(
    settings, team, openai_host, db_engine
) -> None:
    """Given a host answering 429 to every attempt, then PROVIDER_RATE_LIMITED, one row."""
    openai_host.default = openai_error(429, "Rate limit reached", code="rate_limit_exceeded")

    result = await call_gpt4o(settings, team, openai_host, db_engine, llm_retry_attempts=1)

    user_error(result, "PROVIDER_RATE_LIMITED", ["input", "model"])
    [row] = await usage_rows(db_engine)
    assert (row.status, row.error_code) == ("error", "RATE_LIMIT")


async def test_a_slow_first_token_is_provider_timeout(
    settings, team, openai_host, db_engine
) -> None:
    """Given a host slower than the first-token timeout, then PROVIDER_TIMEOUT, one row."""
    openai_host.default = Reply(first_token_delay=3)

    result = await call_gpt4o(
        settings, team, openai_host, db_engine, llm_first_token_timeout=0.3, llm_retry_attempts=1
    )

    user_error(result, "PROVIDER_TIMEOUT", ["input", "model"])
    [row] = await usage_rows(db_engine)
    assert (row.status, row.error_code) == ("error", "TIMEOUT")


async def test_a_stream_broken_halfway_is_charged_for_its_partial_output(
    settings, team, openai_host, db_engine
) -> None:
    """Given a host that drops the connection after three chunks, when generating, then
    PROVIDER_UNAVAILABLE without a retry, and the error row charges the prompt and the three
    chunks, counted locally (estimated) at gpt-4o's price."""
    reply = Reply(text="alpha beta gamma delta epsilon zeta", break_after=3)
    openai_host.script = [reply]

    result = await call_gpt4o(settings, team, openai_host, db_engine)

    user_error(result, "PROVIDER_UNAVAILABLE", ["input", "model"])
    assert openai_host.calls == 1
    input_tokens, _ = count_tokens("gpt-4o", "openai", [ChatMessage("user", PROMPT)])
    output_tokens, _ = count_tokens("gpt-4o", "openai", "alpha beta gamma")
    [row] = await usage_rows(db_engine)
    assert (row.status, row.error_code, row.tokens_estimated) == ("error", "UNAVAILABLE", True)
    assert (row.input_tokens, row.output_tokens) == (input_tokens, output_tokens)
    assert row.cost == (Decimal(input_tokens) * 5 + Decimal(output_tokens) * 15) / 1_000_000
    assert row.time_to_first_token_ms is not None


def tokens_streamed(monkeypatch, count: int) -> asyncio.Event:
    """Set once the mock provider has yielded ``count`` tokens of an answer."""
    streamed = asyncio.Event()
    original = MockProvider.stream

    async def counting(self, *args, **kwargs):
        seen = 0
        async for event in original(self, *args, **kwargs):
            yield event
            seen += 1
            if seen >= count:
                streamed.set()

    monkeypatch.setattr(MockProvider, "stream", counting)
    return streamed


async def test_a_cancelled_request_is_metered_as_cancelled(
    settings, team, db_engine, monkeypatch
) -> None:
    """Given a slow mock reply, when the request is cancelled while tokens stream, then a
    cancelled row holds the tokens streamed so far (estimated)."""
    mock = await llm_global_id(db_engine, "synapse-dev")
    streamed = tokens_streamed(monkeypatch, 3)

    async with app_client(settings, mock_tokens_per_second=20) as client:
        task = asyncio.create_task(generate(client, team.owner.token, team.workspace, mock))
        await asyncio.wait_for(streamed.wait(), timeout=60)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    [row] = await usage_rows(db_engine)
    assert (row.status, row.error_code, row.tokens_estimated) == ("cancelled", "CANCELLED", True)
    assert 0 < row.output_tokens < 40
    assert row.api_key_source == "none"
