"""Metering under concurrency and against budgets: concurrent calls on one conversation
add up exactly, spend thresholds fire once per month, and the hard stop refuses calls."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from synapse_gql.db import Database
from synapse_gql.metering import CallRecord, RecordResult, budget_allows, record_call
from synapse_gql.models import AlertKind, AlertStatus
from tests.helpers import execute, fetch, scalar
from tests.metering_helpers import (
    Scene,
    alerts,
    count,
    insert_budget,
    make_scene,
    model,
    new_message,
    record,
)

D = Decimal
MONTH_START = "(date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
ALL_ALERTS = [("spend_threshold", 50), ("spend_threshold", 80), ("spend_limit", 100)]


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=20)
    yield database
    await database.dispose()


@pytest.fixture
async def scene(make_user, make_workspace, db_engine) -> Scene:
    return await make_scene(make_user, make_workspace, db_engine)


async def record_together(db: Database, calls: list[CallRecord]) -> list[RecordResult]:
    """Record each call in its own transaction, all transactions open at the same time."""
    barrier = asyncio.Barrier(len(calls))

    async def one(call: CallRecord) -> RecordResult:
        async with db.transaction() as session:
            await session.execute(text("SELECT 1"))
            await barrier.wait()
            return await record_call(session, call)

    async with asyncio.timeout(60):
        return list(await asyncio.gather(*(one(call) for call in calls)))


def thresholds(result: RecordResult) -> list[tuple[str, int]]:
    pairs = [(alert.kind.value, alert.threshold_percent or 0) for alert in result.new_alerts]
    return sorted(pairs, key=lambda pair: pair[1])


async def test_concurrent_calls_on_one_conversation_add_up_exactly(db, db_engine, scene) -> None:
    """Given 20 calls recorded at once in 20 transactions on one conversation, then the
    totals are exactly their sum, with 20 calls, 20 usage rows and 20 charges."""
    gpt4o = await model(db_engine, "gpt-4o")
    messages = [await new_message(db_engine, scene) for _ in range(20)]
    calls = [
        scene.call(
            gpt4o,
            message_id=message,
            input_tokens=1000 + i,
            output_tokens=500,
            latency_ms=100 + i,
        )
        for i, message in enumerate(messages)
    ]
    results = await record_together(db, calls)
    costs = [result.cost for result in results]
    assert costs == [(5 * (1000 + i) + 15 * 500) / D(1_000_000) for i in range(20)]
    [totals] = await fetch(
        db_engine,
        "SELECT total_input_tokens, total_output_tokens, total_cost FROM conversations"
        " WHERE id = :c",
        c=scene.conversation_id,
    )
    assert tuple(totals) == (20_190, 10_000, sum(costs))
    [aggregate] = await fetch(
        db_engine,
        "SELECT call_count, input_tokens, output_tokens, total_cost, total_latency_ms"
        " FROM conversation_llms WHERE conversation_id = :c",
        c=scene.conversation_id,
    )
    assert tuple(aggregate) == (20, 20_190, 10_000, sum(costs), 2190)
    assert await count(db_engine, "usage_logs", conversation_id=scene.conversation_id) == 20
    charged = await scalar(
        db_engine,
        "SELECT sum(amount) FROM billing_events WHERE workspace_id = :w",
        w=scene.workspace_id,
    )
    assert await count(db_engine, "billing_events", workspace_id=scene.workspace_id) == 20
    assert charged == sum(costs)
    message_costs = await fetch(
        db_engine,
        "SELECT id, cost FROM messages WHERE conversation_id = :c",
        c=scene.conversation_id,
    )
    assert dict(message_costs) == dict(zip(messages, costs, strict=True))


async def test_concurrent_calls_crossing_thresholds_fire_each_once(db, db_engine, scene) -> None:
    """Given a 2 USD budget and 20 concurrent one-shot calls of 0.1 USD (no conversation
    row to serialize them), then 50, 80 and 100 % each fire exactly once, the last only
    when the very last charge reaches the limit."""
    gpt4o = await model(db_engine, "gpt-4o")
    await insert_budget(db_engine, scene.workspace_id, "2")
    calls = [scene.call(gpt4o, input_tokens=20_000, conversation_id=None) for _ in range(20)]
    results = await record_together(db, calls)
    assert {result.cost for result in results} == {D("0.1")}
    raised = sorted((p for r in results for p in thresholds(r)), key=lambda pair: pair[1])
    assert raised == ALL_ALERTS
    assert await alerts(db_engine, scene.workspace_id) == ALL_ALERTS
    in_this_month = await scalar(
        db_engine, f"SELECT bool_and(period_start = {MONTH_START}) FROM alert_events"
    )
    assert in_this_month is True
    more = await record_together(db, calls[:5])
    assert [result.new_alerts for result in more] == [[]] * 5
    assert await count(db_engine, "alert_events") == 3


async def test_thresholds_fire_one_after_the_other(db, db_engine, scene) -> None:
    """Given a 1 USD budget and calls of 0.3 USD, then 50 % fires at 0.6, 80 % at 0.9 and
    the limit at 1.2, each once, with the budget, spend and period in the alert."""
    gpt4o = await model(db_engine, "gpt-4o")
    await insert_budget(db_engine, scene.workspace_id, "1")
    results = [await record(db, scene.call(gpt4o, input_tokens=60_000)) for _ in range(5)]
    assert [thresholds(result) for result in results] == [
        [],
        [("spend_threshold", 50)],
        [("spend_threshold", 80)],
        [("spend_limit", 100)],
        [],
    ]
    limit_alert = results[3].new_alerts[0]
    assert limit_alert.kind is AlertKind.SPEND_LIMIT
    assert limit_alert.status is AlertStatus.OPEN
    assert limit_alert.workspace_id == scene.workspace_id
    assert limit_alert.budget_id is not None
    assert limit_alert.details["spend"] == "1.2000000000"
    assert limit_alert.details["usage_log_id"] == str(results[3].usage_log.id)
    assert "1.2 USD reached 100% of the 1 USD monthly budget" in limit_alert.message


async def test_only_this_months_live_charges_count(db, db_engine, scene) -> None:
    """Given big charges last month and a void one this month, and last month's 50 % alert,
    when a 0.9 USD call is recorded against a 1 USD budget, then this month's 50 % and
    80 % both fire, on that one call."""
    gpt4o = await model(db_engine, "gpt-4o")
    await insert_budget(db_engine, scene.workspace_id, "1")
    for when, status in ((f"{MONTH_START} - interval '1 second'", "pending"), ("now()", "void")):
        await execute(
            db_engine,
            "INSERT INTO billing_events (id, workspace_id, type, amount, status, created_at)"
            f" VALUES (:id, :w, 'usage_charge', 1000, :s, {when})",
            id=uuid.uuid4(),
            w=scene.workspace_id,
            s=status,
        )
    await execute(
        db_engine,
        "INSERT INTO alert_events (id, workspace_id, kind, status, threshold_percent,"
        " period_start, message, details) VALUES (:id, :w, 'spend_threshold', 'open', 50,"
        f" {MONTH_START} - interval '1 month', 'last month', '{{}}')",
        id=uuid.uuid4(),
        w=scene.workspace_id,
    )
    result = await record(db, scene.call(gpt4o, input_tokens=180_000))
    assert result.cost == D("0.9")
    assert thresholds(result) == [("spend_threshold", 50), ("spend_threshold", 80)]
    assert await count(db_engine, "alert_events", workspace_id=scene.workspace_id) == 3


async def test_free_calls_raise_no_alert_even_at_a_zero_limit(db, db_engine, scene) -> None:
    """Given a zero budget, when free calls are recorded, then no alert is raised."""
    dev = await model(db_engine, "synapse-dev")
    await insert_budget(db_engine, scene.workspace_id, "0")
    result = await record(db, scene.call(dev, input_tokens=10, output_tokens=10))
    assert result.new_alerts == []
    assert await count(db_engine, "alert_events") == 0


async def test_budget_allows_until_a_hard_stop_is_reached(db, db_engine, scene) -> None:
    """Given budgets of each kind, then only a hard stop whose limit the month's spend
    reached refuses calls."""

    async def allows() -> bool:
        async with db.transaction() as session:
            return await budget_allows(session, scene.workspace_id)

    async def set_budget(**values: object) -> None:
        changes = ", ".join(f"{name} = :{name}" for name in values)
        sql = f"UPDATE budgets SET {changes} WHERE workspace_id = :w"
        await execute(db_engine, sql, w=scene.workspace_id, **values)

    gpt4o = await model(db_engine, "gpt-4o")
    assert await allows() is True
    await insert_budget(db_engine, scene.workspace_id, "0.5", hard_stop=True)
    await record(db, scene.call(gpt4o, input_tokens=60_000))
    assert await allows() is True
    await record(db, scene.call(gpt4o, input_tokens=40_000))
    assert await allows() is False
    await set_budget(hard_stop=False)
    assert await allows() is True
    await set_budget(hard_stop=True, monthly_limit=D("0.5000000001"))
    assert await allows() is True
    await execute(db_engine, "UPDATE billing_events SET status = 'void'")
    await set_budget(monthly_limit=D(0))
    assert await allows() is False
