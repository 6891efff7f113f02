"""Hard-stop budgets under concurrency: every call reserves its worst case on every budget
covering it with one conditional update, so N concurrent sends against room for exactly
k calls answer exactly k (the rest BUDGET_EXCEEDED), spend never passes the limit and
nothing stays reserved; the same across two server processes sharing the database."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.budget_helpers import (
    CALL_COST,
    MAX_TOKENS,
    budgets,
    open_reservations,
    price_the_mock,
    set_budget,
    streaming,
    usage_row,
)
from tests.chat_helpers import new_conversation, send, wait_for
from tests.conftest import Account
from tests.gql_client import GraphQLClient
from tests.helpers import scalar
from tests.server_process import server_processes

N_SENDS = 50


async def _send_all(
    clients: list[GraphQLClient], owner: Account, conversation: dict, mock: str, n: int
) -> list[dict]:
    """``n`` concurrent sends spread over ``clients``; their payloads."""
    return await asyncio.gather(
        *(
            send(
                clients[i % len(clients)],
                owner,
                conversation,
                f"q{i}",
                model=mock,
                maxTokens=MAX_TOKENS,
            )
            for i in range(n)
        )
    )


async def _assert_exactly(
    results: list[dict], k: int, gql: GraphQLClient, owner: Account, workspace: dict, db_engine
) -> None:  # type: ignore[no-untyped-def]
    """Exactly k answered, the rest refused by the budget; once all answers ended, spend is
    k calls (within the limit), nothing is reserved, every reservation settled."""
    kinds = [r["__typename"] for r in results]
    assert kinds.count("ChatTurn") == k, results
    refused = [r for r in results if r["__typename"] == "UserError"]
    assert {r["code"] for r in refused} <= {"BUDGET_EXCEEDED"}, refused
    assert len(refused) == len(results) - k
    await wait_for(lambda: _none_streaming(db_engine))
    [budget] = await budgets(gql, owner, workspace)
    row = await usage_row(db_engine, budget)
    assert (row.spent, row.reserved) == (k * CALL_COST, Decimal(0))
    assert row.spent <= Decimal(budget["limit"])
    assert await open_reservations(db_engine) == 0
    assert await scalar(db_engine, "SELECT count(*) FROM usage_logs") == k
    completed = "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'completed'"
    assert await scalar(db_engine, completed) == k


async def _none_streaming(db_engine) -> bool:  # type: ignore[no-untyped-def]
    return await streaming(db_engine) == 0


@pytest.mark.parametrize("k", [0, 1, 2, 5])
async def test_concurrent_sends_answer_exactly_the_calls_the_budget_has_room_for(
    k, gql, make_user, make_workspace, db_engine
) -> None:  # type: ignore[no-untyped-def]
    """Given a hard-stop budget with room for exactly k answers of the priced mock, when 50
    questions are sent at once, then exactly k are answered and the rest BUDGET_EXCEEDED;
    spend is k answers, nothing stays reserved."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("admin"))
    made = await set_budget(gql, owner, workspace, limit=str(k * CALL_COST), hardStop=True)
    assert made["__typename"] == "Budget", made
    conversation = await new_conversation(gql, owner, workspace)

    results = await _send_all([gql], owner, conversation, mock, N_SENDS)

    await _assert_exactly(results, k, gql, owner, workspace, db_engine)


@pytest.mark.parametrize("k", [2, 5])
async def test_two_processes_share_the_budget_exactly(
    k, settings, redis_url, tmp_path, gql, make_user, make_workspace, db_engine
) -> None:  # type: ignore[no-untyped-def]
    """Given two server processes on one database and room for exactly k answers, when 50
    questions are sent at once, half to each process, then exactly k are answered across
    both, and spend and reservations add up."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("admin"))
    made = await set_budget(gql, owner, workspace, limit=str(k * CALL_COST), hardStop=True)
    assert made["__typename"] == "Budget", made
    conversation = await new_conversation(gql, owner, workspace)
    servers = {"A": {"mock_tokens_per_second": 0}, "B": {"mock_tokens_per_second": 0}}

    async with server_processes(settings, redis_url, tmp_path, servers) as (a, b):
        results = await _send_all([a.gql, b.gql], owner, conversation, mock, N_SENDS)
        await wait_for(lambda: _none_streaming(db_engine))

    await _assert_exactly(results, k, gql, owner, workspace, db_engine)


async def test_alert_only_budget_never_refuses_and_settles(
    gql, make_user, make_workspace, db_engine
) -> None:  # type: ignore[no-untyped-def]
    """Given an alert-only budget with room for one answer, when 3 questions are sent at
    once, then all 3 are answered, spend is 3 answers (over the limit, alerts raised once
    per threshold) and nothing stays reserved."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("admin"))
    made = await set_budget(gql, owner, workspace, limit=str(CALL_COST), hardStop=False)
    assert made["__typename"] == "Budget", made
    conversation = await new_conversation(gql, owner, workspace)

    results = await _send_all([gql], owner, conversation, mock, 3)

    assert [r["__typename"] for r in results] == ["ChatTurn"] * 3, results
    await wait_for(lambda: _none_streaming(db_engine))
    row = await usage_row(db_engine, made)
    assert (row.spent, row.reserved) == (3 * CALL_COST, Decimal(0))
    alerts = await scalar(
        db_engine, "SELECT count(*) FROM alert_events WHERE budget_id IS NOT NULL"
    )
    assert alerts == 3  # 50, 80 and 100 percent, each once
