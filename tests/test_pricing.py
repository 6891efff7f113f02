"""Prices that hold: a call pays the price period in force when it was sent, and prompt-cache
tokens are counted apart and paid at the model's cache prices, through the real SDKs against
the loopback fakes."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from synapse_gql import migrations
from synapse_gql.chat.recovery import estimated_call
from synapse_gql.config import Settings
from synapse_gql.llm import (
    AnthropicProvider,
    ChatMessage,
    GenerationParams,
    OpenAIProvider,
    Timeouts,
    Usage,
)
from synapse_gql.models import Conversation, Message
from tests.chat_helpers import new_conversation, send, wait_for
from tests.generation_helpers import Team, fake_urls, generate, llm_global_id, make_team
from tests.helpers import db_id, fetch, make_admin, scalar
from tests.llm_fakes import FakeHost, Reply, drain

D = Decimal
MILLION = D(1_000_000)
TIMEOUTS = Timeouts(connect=5, first_token=5, total=30)
MESSAGES = [ChatMessage("user", "Say hello.")]
CACHED = Reply(input_tokens=40, output_tokens=9, cache_read_tokens=1000, cache_write_tokens=300)


@pytest.fixture
def settings(settings: Settings, openai_host: FakeHost, anthropic_host: FakeHost) -> Settings:
    """OpenAI and Anthropic on the fakes with server-wide keys; an unthrottled mock."""
    changes = {
        "provider_base_urls": fake_urls(openai_host.base_url, anthropic_host.base_url),
        "openai_api_key": SecretStr("sk-test-openai-000000000000"),
        "anthropic_api_key": SecretStr("sk-test-anthropic-0000000000"),
        "mock_tokens_per_second": 0,
    }
    return settings.model_copy(update=changes)


@pytest.fixture
async def team(make_user, make_workspace, db_engine) -> Team:
    made = await make_team(make_user, make_workspace)
    await make_admin(db_engine, made.owner.email)
    return made


async def usage(engine) -> list:
    """Every usage row with its price period, oldest first."""
    return await fetch(
        engine,
        "SELECT input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,"
        " total_tokens, input_price_per_million, cache_read_price_per_million,"
        " cache_write_price_per_million, cost, llm_price_id FROM usage_logs"
        " ORDER BY created_at, id",
    )


async def open_period(engine, model_id: str) -> uuid.UUID:
    return await scalar(
        engine,
        "SELECT p.id FROM llm_prices p JOIN llms l ON l.id = p.llm_id"
        " WHERE l.model_id = :m AND p.valid_to IS NULL",
        m=model_id,
    )


async def reprice(gql, team: Team, model: str, price: str) -> None:
    given = {"id": model, "inputPricePerMillion": price}
    updated = (await gql.op("UpdateLlm", team.owner.token, input=given))["updateLlm"]
    assert updated["inputPricePerMillion"] == price, updated


async def until_requested(host: FakeHost, calls: int) -> None:
    """Wait until the fake received ``calls`` requests (the call is then under way)."""

    async def arrived() -> bool:
        return host.calls >= calls

    await wait_for(arrived)


# --- what the SDK adapters report -----------------------------------------------------------


@pytest.mark.parametrize("streamed", [True, False])
async def test_openai_cached_input_is_taken_out_of_prompt_tokens(openai_host, streamed) -> None:
    """Given a host reporting 1040 prompt tokens of which 1000 cached, then the usage has 40
    uncached input tokens and 1000 cache reads (OpenAI has no cache writes)."""
    openai_host.default = CACHED
    adapter = OpenAIProvider(openai_host.base_url, TIMEOUTS)
    params = GenerationParams(model="gpt-4o", max_tokens=64)
    try:
        if streamed:
            end = (await drain(adapter.stream(MESSAGES, params, api_key="sk-1"))).end
        else:
            _, end = await adapter.complete(MESSAGES, params, api_key="sk-1")
    finally:
        await adapter.aclose()

    assert end is not None
    assert end.usage == Usage(40, 9, cache_read_tokens=1000)


@pytest.mark.parametrize("streamed", [True, False])
async def test_anthropic_cache_counts_are_kept_apart(anthropic_host, streamed) -> None:
    """Given a host reporting 40 input tokens, 1000 cache reads and 300 cache writes, then
    the usage keeps the three apart (Anthropic's input_tokens excludes the cache)."""
    anthropic_host.default = CACHED
    adapter = AnthropicProvider(anthropic_host.base_url, TIMEOUTS)
    params = GenerationParams(model="claude-3-haiku-20240307", max_tokens=64)
    try:
        if streamed:
            end = (await drain(adapter.stream(MESSAGES, params, api_key="sk-1"))).end
        else:
            _, end = await adapter.complete(MESSAGES, params, api_key="sk-1")
    finally:
        await adapter.aclose()

    assert end is not None
    assert end.usage == Usage(40, 9, cache_read_tokens=1000, cache_write_tokens=300)


# --- cached tokens priced apart ---------------------------------------------------------------


async def test_openai_cache_reads_pay_the_cached_input_price(
    gql, team, db_engine, openai_host
) -> None:
    """Given gpt-4o (input 5, cached input 2.5, output 15) and a reply with 1000 cached of
    1040 prompt tokens, when generating, then the row keeps 40 input and 1000 cache reads
    and costs (40 * 5 + 1000 * 2.5 + 9 * 15) / 1e6."""
    openai_host.default = CACHED
    gpt4o = await llm_global_id(db_engine, "gpt-4o")

    result = await generate(gql, team.owner.token, team.workspace, gpt4o)

    expected = (40 * D(5) + 1000 * D("2.5") + 9 * D(15)) / MILLION
    assert D(result["cost"]) == expected, result
    [row] = await usage(db_engine)
    assert (row.input_tokens, row.cache_read_tokens, row.cache_write_tokens) == (40, 1000, 0)
    assert (row.total_tokens, row.cost) == (1049, expected)
    assert (row.cache_read_price_per_million, row.cache_write_price_per_million) == (D("2.5"), None)


async def test_anthropic_cache_reads_and_writes_pay_their_prices(
    gql, team, db_engine, anthropic_host
) -> None:
    """Given Claude 3 Haiku (input 0.25, cache read 0.03, cache write 0.3, output 1.25), when
    a generation reads 1000 and writes 300 cached tokens, then each pays its own price."""
    anthropic_host.default = CACHED
    haiku = await llm_global_id(db_engine, "claude-3-haiku-20240307")

    result = await generate(gql, team.owner.token, team.workspace, haiku)

    expected = (40 * D("0.25") + 1000 * D("0.03") + 300 * D("0.3") + 9 * D("1.25")) / MILLION
    assert D(result["cost"]) == expected, result
    [row] = await usage(db_engine)
    assert (row.input_tokens, row.cache_read_tokens, row.cache_write_tokens) == (40, 1000, 300)
    assert (row.total_tokens, row.cost) == (1349, expected)


async def test_a_model_without_cache_prices_prices_cached_tokens_as_input(
    gql, team, db_engine, openai_host
) -> None:
    """Given gpt-4-turbo (input 10, no cache prices), when 1000 of the prompt was cached,
    then the cached tokens are kept apart on the row but pay the input price."""
    openai_host.default = CACHED
    turbo = await llm_global_id(db_engine, "gpt-4-turbo")

    result = await generate(gql, team.owner.token, team.workspace, turbo)

    expected = (1040 * D(10) + 9 * D(30)) / MILLION
    assert D(result["cost"]) == expected, result
    [row] = await usage(db_engine)
    assert (row.input_tokens, row.cache_read_tokens, row.cache_read_price_per_million) == (
        40,
        1000,
        None,
    )


async def test_a_cached_chat_answer_keeps_conversation_totals_equal_to_its_rows(
    gql, team, db_engine, anthropic_host
) -> None:
    """Given two Claude 3 Opus answers with cache reads and writes, then the conversation's
    and the per-model aggregate's cost equal the sum of the usage rows' costs."""
    anthropic_host.default = CACHED
    opus = await llm_global_id(db_engine, "claude-3-opus-20240229")
    chat = await new_conversation(gql, team.owner, team.workspace)

    for question in ("One", "Two"):
        turn = await send(gql, team.owner, chat, question, model=opus)
        assert turn["__typename"] == "ChatTurn", turn
        await _ended(db_engine, turn["assistantMessage"]["id"])

    each = (40 * D(15) + 1000 * D("1.5") + 300 * D("18.75") + 9 * D(75)) / MILLION
    assert [r.cost for r in await usage(db_engine)] == [each, each]
    cid = db_id(chat["id"])
    total = await scalar(db_engine, "SELECT total_cost FROM conversations WHERE id = :c", c=cid)
    per_model = await scalar(
        db_engine, "SELECT total_cost FROM conversation_llms WHERE conversation_id = :c", c=cid
    )
    assert total == per_model == 2 * each


# --- the price in force when the call was sent -----------------------------------------------


async def test_generate_pays_the_price_in_force_when_it_was_sent(
    gql, team, db_engine, openai_host
) -> None:
    """Given a gpt-4o generation held before its first token, when the input price changes
    from 5 to 7 meanwhile, then it pays 5; a generation started after the change pays 7."""
    gate = asyncio.Event()
    openai_host.script = [Reply(gate=gate)]
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    old_period = await open_period(db_engine, "gpt-4o")

    held = asyncio.create_task(generate(gql, team.owner.token, team.workspace, gpt4o))
    await until_requested(openai_host, 1)
    await reprice(gql, team, gpt4o, "7")
    gate.set()
    first = await held
    second = await generate(gql, team.owner.token, team.workspace, gpt4o)

    assert D(first["cost"]) == (21 * D(5) + 9 * D(15)) / MILLION, first
    assert D(second["cost"]) == (21 * D(7) + 9 * D(15)) / MILLION, second
    rows = await usage(db_engine)
    assert [(r.input_price_per_million, r.llm_price_id) for r in rows] == [
        (D(5), old_period),
        (D(7), await open_period(db_engine, "gpt-4o")),
    ]


async def test_a_streaming_answer_pays_the_price_in_force_when_it_was_sent(
    gql, team, db_engine, openai_host
) -> None:
    """Given a gpt-4o answer streaming, when the input price changes from 5 to 7 before it
    ends, then it pays 5 and its message keeps that price period for recovery; the next
    answer pays 7; the conversation's total is the sum of both rows."""
    gate = asyncio.Event()
    openai_host.script = [Reply(gate=gate)]
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    old_period = await open_period(db_engine, "gpt-4o")
    chat = await new_conversation(gql, team.owner, team.workspace)

    first = await send(gql, team.owner, chat, "Slowly", model=gpt4o)
    assert first["__typename"] == "ChatTurn", first
    await until_requested(openai_host, 1)
    await reprice(gql, team, gpt4o, "7")
    kept = await scalar(
        db_engine,
        "SELECT generation->>'llm_price_id' FROM messages WHERE id = :m",
        m=db_id(first["assistantMessage"]["id"]),
    )
    gate.set()
    await _ended(db_engine, first["assistantMessage"]["id"])
    second = await send(gql, team.owner, chat, "Again", model=gpt4o)
    await _ended(db_engine, second["assistantMessage"]["id"])

    assert kept == str(old_period)
    old, new = (21 * D(5) + 9 * D(15)) / MILLION, (21 * D(7) + 9 * D(15)) / MILLION
    rows = await usage(db_engine)
    assert [(r.cost, r.llm_price_id) for r in rows] == [
        (old, old_period),
        (new, await open_period(db_engine, "gpt-4o")),
    ]
    cid = db_id(chat["id"])
    total = await scalar(db_engine, "SELECT total_cost FROM conversations WHERE id = :c", c=cid)
    assert total == old + new


def test_a_recovered_answer_keeps_the_price_period_it_was_sent_at() -> None:
    """Given a message whose generation info names a price period, when a crashed answer is
    metered by recovery, then its call record carries that period."""
    period, llm = uuid.uuid4(), uuid.uuid4()
    info = {"llm_id": str(llm), "provider": "openai", "model_id": "gpt-4o"}
    message = Message(id=uuid.uuid4(), generation={**info, "llm_price_id": str(period)})
    conversation = Conversation(id=uuid.uuid4(), workspace_id=uuid.uuid4(), project_id=None)

    call = estimated_call(message, conversation, "Partial answer", failed=True)

    assert call is not None
    assert (call.llm_id, call.llm_price_id) == (llm, period)


async def _ended(engine, message_id: str) -> None:
    async def closed() -> bool:
        sql = "SELECT status FROM messages WHERE id = :m"
        return await scalar(engine, sql, m=db_id(message_id)) != "streaming"

    await wait_for(closed)


# --- the migration ---------------------------------------------------------------------------

LLM_ROW = (
    "INSERT INTO llms (id, provider, model_id, display_name, input_price_per_million,"
    " output_price_per_million, context_window, max_output_tokens, supports_streaming,"
    " supports_vision, supports_tools, is_active) VALUES (:id, :provider, :model, :model,"
    " :input, 15, 128000, 4096, true, false, false, true)"
)
PRICE_ROW = (
    "INSERT INTO llm_prices (id, llm_id, input_price_per_million, output_price_per_million)"
    " VALUES (:id, :llm, :input, 15)"
)


@pytest.fixture
def empty_database(pg_server):
    name = pg_server.create_empty()
    yield pg_server.url(name)
    asyncio.run(pg_server.drop(name))


def _run(url: str, *statements: tuple[str, dict]) -> list:
    async def go() -> list:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                results = [await conn.execute(text(sql), params) for sql, params in statements]
                return [list(r.all()) if r.returns_rows else None for r in results]
        finally:
            await engine.dispose()

    return asyncio.run(go())


PERIODS = (
    "SELECT l.model_id, p.input_price_per_million, p.cache_read_price_per_million,"
    " p.cache_write_price_per_million, p.valid_to IS NULL, l.cache_read_price_per_million"
    " FROM llm_prices p JOIN llms l ON l.id = p.llm_id ORDER BY l.model_id, p.valid_to IS NULL",
    {},
)


def test_migration_gives_unchanged_seed_models_a_period_with_cache_prices(
    empty_database: str,
) -> None:
    """Given an install before cache prices with gpt-4o at its seed price and Claude 3 Opus
    repriced by an admin, when migrated, then gpt-4o's period is closed and a new one carries
    its cache price; the admin's price is left alone; downgrading drops the columns."""
    migrations.upgrade(empty_database, "0004")
    rows: list[tuple[str, dict]] = []
    for model_id, provider, price in (
        ("gpt-4o", "openai", 5),
        ("claude-3-opus-20240229", "anthropic", 20),
    ):
        llm = uuid.uuid4()
        given = {"id": llm, "provider": provider, "model": model_id, "input": price}
        rows += [(LLM_ROW, given), (PRICE_ROW, {"id": uuid.uuid4(), "llm": llm, "input": price})]
    _run(empty_database, *rows)

    migrations.upgrade(empty_database)
    [periods] = _run(empty_database, PERIODS)
    migrations.downgrade(empty_database, "0004")
    [columns] = _run(
        empty_database,
        (
            "SELECT count(*) FROM information_schema.columns WHERE column_name LIKE 'cache%'"
            " AND table_name IN ('llms', 'llm_prices', 'usage_logs')",
            {},
        ),
    )

    assert [tuple(p) for p in periods] == [
        ("claude-3-opus-20240229", D(20), None, None, True, None),
        ("gpt-4o", D(5), None, None, False, D("2.5")),
        ("gpt-4o", D(5), D("2.5"), None, True, D("2.5")),
    ]
    assert columns == [(0,)]
