"""Metering of one LLM call at a time: exact cost, the price of the moment, usage rows,
message and conversation totals, per-LLM aggregates and billing events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from synapse_gql.catalog.service import update_llm
from synapse_gql.db import Database
from synapse_gql.metering import MissingPrice, cost, current_price, record_call
from synapse_gql.models import Conversation, UsageStatus
from tests.helpers import execute, fetch
from tests.metering_helpers import Scene, count, make_scene, model, new_message, record

D = Decimal


@dataclass
class Price:
    input_price_per_million: Decimal
    output_price_per_million: Decimal


class Abandoned(Exception):
    """Raised to roll a transaction back."""


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    await database.dispose()


@pytest.fixture
async def scene(make_user, make_workspace, db_engine) -> Scene:
    return await make_scene(make_user, make_workspace, db_engine)


async def conversation_totals(engine, scene: Scene) -> tuple:
    [row] = await fetch(
        engine,
        "SELECT total_input_tokens, total_output_tokens, total_cost FROM conversations"
        " WHERE id = :c",
        c=scene.conversation_id,
    )
    return tuple(row)


async def test_gpt4o_cost_is_exact_at_the_catalog_price(db, db_engine) -> None:
    """Given gpt-4o at 5/15 USD per million, then 1000 in + 500 out cost exactly 0.0125."""
    gpt4o = await model(db_engine, "gpt-4o")
    async with db.transaction() as session:
        price = await current_price(session, gpt4o.id)
    assert (price.input_price_per_million, price.output_price_per_million) == (D(5), D(15))
    charged = cost(1000, 500, price)
    assert charged == D("0.0125")
    assert charged.as_tuple().exponent == -10
    assert cost(0, 0, price) == 0


def test_cost_rounds_half_up_to_ten_places_in_decimal() -> None:
    """Costs are quantized to 1e-10 half up; big counts stay exact; floats are refused."""
    assert cost(1, 0, Price(D("0.00015"), D(0))) == D("0.0000000002")
    assert cost(1, 0, Price(D("0.00005"), D(0))) == D("0.0000000001")
    assert cost(1, 0, Price(D("0.00004"), D(0))) == D(0)
    assert cost(0, 3, Price(D(0), D("0.00005"))) == D("0.0000000002")
    huge = Price(D("99999.9999999999"), D("12345.6789012345"))
    expected = (2_000_000_000 * D("99999.9999999999") + 7 * D("12345.6789012345")) / 1_000_000
    assert cost(2_000_000_000, 7, huge) == expected.quantize(D("1e-10"))
    with pytest.raises(ValueError, match="negative"):
        cost(-1, 0, huge)
    with pytest.raises(TypeError, match="Decimal"):
        cost(1, 1, Price(0.5, D(1)))  # type: ignore[arg-type]


async def test_current_price_requires_an_open_period(db, db_engine) -> None:
    """Given a model whose price periods are all closed, then pricing a call fails clearly."""
    gpt4o = await model(db_engine, "gpt-4o")
    await execute(db_engine, "UPDATE llm_prices SET valid_to = now() WHERE llm_id = :l", l=gpt4o.id)
    async with db.transaction() as session:
        with pytest.raises(MissingPrice, match="no current price"):
            await current_price(session, gpt4o.id)


async def test_free_dev_model_costs_nothing_and_bills_nothing(db, db_engine, scene) -> None:
    """Given calls of the free dev model, then tokens add up but nothing is charged."""
    dev = await model(db_engine, "synapse-dev")
    result = await record(db, scene.call(dev, input_tokens=120, output_tokens=80))
    assert (result.cost, result.billing_event, result.new_alerts) == (D(0), None, [])
    assert (result.usage_log.cost, result.usage_log.total_tokens) == (D(0), 200)
    assert await count(db_engine, "billing_events", workspace_id=scene.workspace_id) == 0
    assert await conversation_totals(db_engine, scene) == (120, 80, D(0))


async def test_each_usage_row_keeps_the_price_it_was_charged(db, db_engine, scene) -> None:
    """Given a price change between two calls, then each row keeps its price and price id."""
    gpt4o = await model(db_engine, "gpt-4o")
    first = await record(db, scene.call(gpt4o, input_tokens=1000, output_tokens=500))
    async with db.transaction() as session:
        changes = {"input_price_per_million": D(6), "output_price_per_million": D(18)}
        await update_llm(session, gpt4o.id, changes)
    second = await record(db, scene.call(gpt4o, input_tokens=1000, output_tokens=500))
    rows = await fetch(
        db_engine,
        "SELECT u.llm_price_id, u.input_price_per_million, u.output_price_per_million, u.cost,"
        " p.valid_to IS NULL AS open FROM usage_logs u JOIN llm_prices p ON p.id = u.llm_price_id"
        " ORDER BY u.cost",
    )
    assert [tuple(row) for row in rows] == [
        (first.usage_log.llm_price_id, D(5), D(15), D("0.0125"), False),
        (second.usage_log.llm_price_id, D(6), D(18), D("0.015"), True),
    ]
    assert first.usage_log.llm_price_id != second.usage_log.llm_price_id
    assert await conversation_totals(db_engine, scene) == (2000, 1000, D("0.0275"))


async def test_totals_aggregates_and_charges_after_calls_on_two_models(
    db, db_engine, scene
) -> None:
    """Given two gpt-4o calls and one claude-3-haiku call, each writing its own assistant
    message, then messages, conversation totals, per-LLM aggregates and charges are exact."""
    gpt4o, haiku = (
        await model(db_engine, "gpt-4o"),
        await model(db_engine, "claude-3-haiku-20240307"),
    )
    calls = [
        (gpt4o, 1000, 500, 800, 200, D("0.0125")),
        (gpt4o, 2000, 1000, 1200, 300, D("0.025")),
        (haiku, 4000, 2000, 500, 100, D("0.0035")),
    ]
    results = []
    for llm, tokens_in, tokens_out, latency, ttft, _ in calls:
        message = await new_message(db_engine, scene)
        call = scene.call(
            llm,
            message_id=message,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            latency_ms=latency,
            time_to_first_token_ms=ttft,
            tokens_estimated=llm is haiku,
        )
        results.append((message, await record(db, call)))
    for (llm, tokens_in, tokens_out, latency, ttft, charged), (message, result) in zip(
        calls, results, strict=True
    ):
        assert result.cost == charged
        [row] = await fetch(
            db_engine,
            "SELECT input_tokens, output_tokens, cost, latency_ms, time_to_first_token_ms,"
            " llm_id, finish_reason FROM messages WHERE id = :m",
            m=message,
        )
        assert tuple(row) == (tokens_in, tokens_out, charged, latency, ttft, llm.id, "stop")
        [usage] = await fetch(
            db_engine,
            "SELECT total_tokens, status, tokens_estimated, parameters, api_key_source, provider,"
            " model_id, user_id, workspace_id FROM usage_logs WHERE message_id = :m",
            m=message,
        )
        assert tuple(usage) == (
            tokens_in + tokens_out,
            "success",
            llm is haiku,
            {"temperature": 0.7},
            "workspace",
            llm.provider,
            llm.model_id,
            scene.user_id,
            scene.workspace_id,
        )
    assert await conversation_totals(db_engine, scene) == (7000, 3500, D("0.041"))
    aggregates = await fetch(
        db_engine,
        "SELECT llm_id, call_count, input_tokens, output_tokens, total_cost, total_latency_ms,"
        " total_latency_ms / call_count AS average, first_used_at <= last_used_at"
        " FROM conversation_llms WHERE conversation_id = :c ORDER BY call_count DESC",
        c=scene.conversation_id,
    )
    assert [tuple(row) for row in aggregates] == [
        (gpt4o.id, 2, 3000, 1500, D("0.0375"), 2000, 1000, True),
        (haiku.id, 1, 4000, 2000, D("0.0035"), 500, 500, True),
    ]
    charges = await fetch(
        db_engine,
        "SELECT usage_log_id, message_id, user_id, type, amount, currency, status"
        " FROM billing_events WHERE workspace_id = :w ORDER BY amount",
        w=scene.workspace_id,
    )
    expected = sorted(
        (
            (r.usage_log.id, m, scene.user_id, "usage_charge", r.cost, "USD", "pending")
            for m, r in results
        ),
        key=lambda row: row[4],
    )
    assert [tuple(row) for row in charges] == expected
    assert all(r.billing_event.usage_log_id == r.usage_log.id for _, r in results)


async def test_failed_call_without_tokens_counts_but_costs_nothing(db, db_engine, scene) -> None:
    """Given a call failing before any token, then its usage row has status error and the
    error; nothing is charged; the message is untouched; the per-LLM aggregate counts the
    call. A successful retry then fills the message and counts a second call."""
    gpt4o = await model(db_engine, "gpt-4o")
    message = await new_message(db_engine, scene)
    failed = scene.call(
        gpt4o,
        message_id=message,
        status=UsageStatus.ERROR,
        error_code="PROVIDER_UNAVAILABLE",
        error_message="503 from the provider",
        latency_ms=300,
        finish_reason=None,
    )
    result = await record(db, failed)
    assert (result.cost, result.billing_event) == (D(0), None)
    [usage] = await fetch(
        db_engine,
        "SELECT status, error_code, error_message, cost, total_tokens FROM usage_logs",
    )
    assert tuple(usage) == ("error", "PROVIDER_UNAVAILABLE", "503 from the provider", 0, 0)
    assert await count(db_engine, "billing_events", workspace_id=scene.workspace_id) == 0
    message_sql = "SELECT input_tokens, output_tokens, cost, llm_id FROM messages WHERE id = :m"
    assert [tuple(row) for row in await fetch(db_engine, message_sql, m=message)] == [
        (None, None, None, None)
    ]
    assert await conversation_totals(db_engine, scene) == (0, 0, D(0))
    aggregate_sql = (
        "SELECT call_count, input_tokens, output_tokens, total_cost, total_latency_ms"
        " FROM conversation_llms WHERE conversation_id = :c"
    )
    rows = await fetch(db_engine, aggregate_sql, c=scene.conversation_id)
    assert [tuple(row) for row in rows] == [(1, 0, 0, D(0), 300)]
    await record(db, scene.call(gpt4o, message_id=message, input_tokens=1000, output_tokens=500))
    assert [tuple(row) for row in await fetch(db_engine, message_sql, m=message)] == [
        (1000, 500, D("0.0125"), gpt4o.id)
    ]
    rows = await fetch(db_engine, aggregate_sql, c=scene.conversation_id)
    assert [tuple(row) for row in rows] == [(2, 1000, 500, D("0.0125"), 300)]


async def test_cancelled_call_pays_for_what_it_consumed(db, db_engine, scene) -> None:
    """Given a call cancelled after 200 of its output tokens, then prompt and output are
    charged, and a retry of the same message adds to its cost."""
    gpt4o = await model(db_engine, "gpt-4o")
    message = await new_message(db_engine, scene)
    cancelled = scene.call(
        gpt4o,
        message_id=message,
        status=UsageStatus.CANCELLED,
        input_tokens=1000,
        output_tokens=200,
        finish_reason="cancelled",
    )
    result = await record(db, cancelled)
    assert result.cost == D("0.008")
    assert result.usage_log.status is UsageStatus.CANCELLED
    assert result.billing_event is not None
    assert result.billing_event.amount == D("0.008")
    message_sql = "SELECT cost, finish_reason, output_tokens FROM messages WHERE id = :m"
    [row] = await fetch(db_engine, message_sql, m=message)
    assert tuple(row) == (D("0.008"), "cancelled", 200)
    await record(db, scene.call(gpt4o, message_id=message, input_tokens=1000, output_tokens=500))
    [row] = await fetch(db_engine, message_sql, m=message)
    assert tuple(row) == (D("0.0205"), "stop", 700)
    assert await conversation_totals(db_engine, scene) == (2000, 700, D("0.0205"))


async def record_and_abandon(db, scene, call, seen: list[tuple]) -> None:
    """Record ``call`` in a transaction holding the conversation, note the totals the
    loaded conversation shows, then roll back."""
    async with db.transaction() as session:
        conversation = await session.get(Conversation, scene.conversation_id)
        await record_call(session, call)
        totals = (conversation.total_input_tokens, conversation.total_output_tokens)
        seen.append((*totals, conversation.total_cost))
        raise Abandoned


async def test_record_call_only_flushes_in_the_callers_transaction(db, db_engine, scene) -> None:
    """Given a transaction that records a call and then rolls back, then nothing remains;
    a conversation loaded in the session already shows the new totals."""
    gpt4o = await model(db_engine, "gpt-4o")
    seen: list[tuple] = []
    call = scene.call(gpt4o, input_tokens=1000, output_tokens=500)
    with pytest.raises(Abandoned):
        await record_and_abandon(db, scene, call, seen)
    assert seen == [(1000, 500, D("0.0125"))]
    assert await count(db_engine, "usage_logs") == 0
    assert await count(db_engine, "billing_events") == 0
    assert await count(db_engine, "conversation_llms") == 0
    assert await conversation_totals(db_engine, scene) == (0, 0, D(0))


async def test_message_must_be_an_assistant_message(db, db_engine, scene) -> None:
    """Given a user's message as the call's message, then recording refuses it."""
    gpt4o = await model(db_engine, "gpt-4o")
    message = await new_message(db_engine, scene)
    await execute(db_engine, "UPDATE messages SET role = 'user' WHERE id = :m", m=message)
    call = scene.call(gpt4o, message_id=message, input_tokens=10, output_tokens=10)
    with pytest.raises(ValueError, match="not an assistant message"):
        await record(db, call)
    assert await count(db_engine, "usage_logs") == 0


# --- the price period of the call, cache tokens ---------------------------------------------


@dataclass
class CachePrice(Price):
    cache_read_price_per_million: Decimal | None
    cache_write_price_per_million: Decimal | None


def test_cached_tokens_pay_cache_prices_or_the_input_price() -> None:
    """Cache reads and writes pay their own prices; a null cache price means the input's."""
    priced = CachePrice(D(3), D(15), D("0.3"), D("3.75"))
    unpriced = CachePrice(D(3), D(15), None, None)

    charged = cost(100, 10, priced, cache_read_tokens=1000, cache_write_tokens=200)
    plain = cost(100, 10, unpriced, cache_read_tokens=1000, cache_write_tokens=200)

    assert charged == (100 * D(3) + 10 * D(15) + 1000 * D("0.3") + 200 * D("3.75")) / 10**6
    assert plain == cost(1300, 10, unpriced)
    with pytest.raises(ValueError, match="negative"):
        cost(0, 0, priced, cache_read_tokens=-1)


async def test_a_call_pays_the_period_it_was_sent_in(db, db_engine, scene) -> None:
    """Given the period id taken when a gpt-4o call was sent and a price change before it
    ended, then the call pays the old period; an id of another model's period is ignored
    (the current price is paid)."""
    gpt4o, mini = await model(db_engine, "gpt-4o"), await model(db_engine, "gpt-4o-mini")
    async with db.transaction() as session:
        sent_at = (await current_price(session, gpt4o.id)).id
        other = (await current_price(session, mini.id)).id
        await update_llm(session, gpt4o.id, {"input_price_per_million": D(6)})

    old = await record(db, scene.call(gpt4o, input_tokens=1000, llm_price_id=sent_at))
    foreign = await record(db, scene.call(gpt4o, input_tokens=1000, llm_price_id=other))

    assert (old.usage_log.llm_price_id, old.cost) == (sent_at, D("0.005"))
    assert foreign.usage_log.llm_price_id not in (sent_at, other)
    assert foreign.cost == D("0.006")


async def test_cache_tokens_are_kept_apart_and_totals_stay_row_sums(db, db_engine, scene) -> None:
    """Given Claude 3 Opus calls with cache reads and writes, then each row keeps them
    apart, with the cache prices charged, and the conversation's and per-model totals equal
    the sums of the rows."""
    opus = await model(db_engine, "claude-3-opus-20240229")
    call = {"input_tokens": 10, "output_tokens": 20, "cache_read_tokens": 3000}
    first = await record(db, scene.call(opus, **call, cache_write_tokens=400))
    second = await record(db, scene.call(opus, **call))

    expected = (10 * D(15) + 20 * D(75) + 3000 * D("1.5") + 400 * D("18.75")) / 10**6
    assert first.cost == expected
    assert second.cost == (10 * D(15) + 20 * D(75) + 3000 * D("1.5")) / 10**6
    rows = await fetch(
        db_engine,
        "SELECT input_tokens, cache_read_tokens, cache_write_tokens, total_tokens,"
        " cache_read_price_per_million, cache_write_price_per_million FROM usage_logs"
        " ORDER BY cost DESC",
    )
    assert [tuple(r) for r in rows] == [
        (10, 3000, 400, 3430, D("1.5"), D("18.75")),
        (10, 3000, 0, 3030, D("1.5"), D("18.75")),
    ]
    sums = await fetch(
        db_engine,
        "SELECT c.total_cost, l.total_cost, (SELECT sum(cost) FROM usage_logs)"
        " FROM conversations c JOIN conversation_llms l ON l.conversation_id = c.id"
        " WHERE c.id = :c",
        c=scene.conversation_id,
    )
    assert [tuple(s) for s in sums] == [(first.cost + second.cost,) * 3]
    charge = await fetch(db_engine, "SELECT description FROM billing_events ORDER BY amount")
    assert "3000 cache read + 0 cache write" in charge[0].description
