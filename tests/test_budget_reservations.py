"""Hard-stop budgets under concurrency: every call reserves its worst case on every budget
covering it with one conditional update, so N concurrent sends against room for exactly
k calls answer exactly k (the rest BUDGET_EXCEEDED), spend never passes the limit and
nothing stays reserved; the same across two server processes sharing the database."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
import pytest_asyncio
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from synapse_gql.config import Settings
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
from tests.gql_client import GraphQLClient, operation_documents
from tests.helpers import db_id, scalar
from tests.server_process import ServerProcess, server_processes

N_SENDS = 50
# Far above what closing k answers takes; reached only when a server is broken.
SAFETY_BOUND = 300.0


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
) -> None:
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


async def _none_streaming(db_engine) -> bool:
    return await streaming(db_engine) == 0


@pytest.mark.parametrize("k", [0, 1, 2, 5])
async def test_concurrent_sends_answer_exactly_the_calls_the_budget_has_room_for(
    k, gql, make_user, make_workspace, db_engine
) -> None:
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


@dataclass
class Pair:
    """Two server processes on one database of their own, started once for the module."""

    a: ServerProcess
    b: ServerProcess
    engine: AsyncEngine
    register: Iterator[int]  # numbers the users (and their addresses)

    async def user(self, name: str) -> Account:
        number = next(self.register)
        email = f"{name}{number}@example.com"
        given = {"input": {"email": email, "name": name, "password": "correct horse battery"}}
        body = {"query": operation_documents()["Register"], "variables": given}
        # Each sign-up from an address of its own (the test host is a trusted proxy): the
        # per-address sign-up count lives in the shared Redis for an hour.
        forwarded = {"X-Forwarded-For": f"198.18.{number // 250}.{number % 250 + 1}"}
        response = await self.a.gql.http.post("/graphql", json=body, headers=forwarded)
        payload = response.json()["data"]["register"]
        assert payload["__typename"] == "AuthPayload", payload
        return Account(payload["user"]["id"], email, payload["accessToken"])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pair(pg_server, template_db, redis_url, tmp_path_factory) -> AsyncIterator[Pair]:
    """The two processes (each case makes its own workspace and budget on them)."""
    name = await pg_server.clone(template_db)
    data_dir = tmp_path_factory.mktemp("pair")
    settings = Settings(
        _env_file=None,
        database_url=pg_server.url(name),
        secret_key=SecretStr(secrets.token_urlsafe(48)),
        data_dir=data_dir,
        db_pool_size=5,
    )
    # Users are registered through the processes: the sign-up and points limits (counted
    # in the shared Redis) have their own tests.
    options = {
        "mock_tokens_per_second": 0,
        "trusted_proxies": '["127.0.0.1"]',
        "rate_limit_anonymous_points": 10**9,
        "rate_limit_user_points": 10**9,
    }
    servers = {"A": options, "B": options}
    engine = create_async_engine(pg_server.url(name))
    try:
        async with server_processes(settings, redis_url, data_dir, servers) as (a, b):
            yield Pair(a, b, engine, iter(range(1, 10_000)))
    finally:
        await engine.dispose()
        await pg_server.drop(name)


async def _answers_closed(engine: AsyncEngine, conversation: dict, k: int) -> bool:
    """The k answers of the conversation are closed (completed or failed, metered)."""
    closed = (
        "SELECT count(*) FROM messages WHERE conversation_id = :c AND role = 'assistant'"
        " AND status <> 'streaming'"
    )
    return await scalar(engine, closed, c=db_id(conversation["id"])) == k


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("k", [0, 1, 2, 5])
async def test_two_processes_share_the_budget_exactly(k, pair: Pair) -> None:
    """Given two server processes on one database and room for exactly k answers, when 50
    questions are sent at once, half to each process, then exactly k are answered across
    both, and, once those k answers are closed, spend and reservations add up."""
    owner = await pair.user("owner")
    workspace = (await pair.a.gql.op("CreateWorkspace", owner.token, input={"name": "T"}))[
        "createWorkspace"
    ]
    mock = await price_the_mock(pair.a.gql, pair.engine, await pair.user("admin"))
    made = await set_budget(pair.b.gql, owner, workspace, limit=str(k * CALL_COST), hardStop=True)
    assert made["__typename"] == "Budget", made
    conversation = await new_conversation(pair.a.gql, owner, workspace)

    results = await _send_all([pair.a.gql, pair.b.gql], owner, conversation, mock, N_SENDS)

    kinds = [r["__typename"] for r in results]
    assert kinds.count("ChatTurn") == k, results
    assert {r["code"] for r in results if r["__typename"] == "UserError"} <= {"BUDGET_EXCEEDED"}
    # A definite condition: the k answers were each closed, metered and settled in one
    # transaction (the bound only keeps a broken server from hanging the run).
    await wait_for(lambda: _answers_closed(pair.engine, conversation, k), seconds=SAFETY_BOUND)
    row = await usage_row(pair.engine, made)
    assert (row.spent, row.reserved) == (k * CALL_COST, Decimal(0))
    assert row.spent <= Decimal(made["limit"])
    assert await open_reservations(pair.engine) == 0
    in_workspace = "SELECT count(*) FROM usage_logs WHERE workspace_id = :w"
    assert await scalar(pair.engine, in_workspace, w=db_id(workspace["id"])) == k
    completed = (
        "SELECT count(*) FROM messages WHERE conversation_id = :c AND role = 'assistant'"
        " AND status = 'completed'"
    )
    assert await scalar(pair.engine, completed, c=db_id(conversation["id"])) == k


async def test_alert_only_budget_never_refuses_and_settles(
    gql, make_user, make_workspace, db_engine
) -> None:
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
