"""Rate limits in query cost points per minute (per API token, user and address), model
calls per minute, reported in ``extensions.rateLimit`` and ``RateLimit-*`` headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from graphql import parse

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from synapse_gql.gql.cost import query_cost
from synapse_gql.realtime import workspace_metrics_channel
from synapse_gql.schema import schema
from synapse_gql.security.throttle import MemoryCounterStore, RedisCounterStore
from tests.chat_helpers import served, wait_for
from tests.generation_helpers import llm_global_id
from tests.gql_client import GraphQLClient, operation_documents
from tests.helpers import db_id, make_admin, scalar, user_error
from tests.sqlcount import counting
from tests.ws_client import connect

TYPENAME = "query Ping { __typename }"  # costs 1 point


@asynccontextmanager
async def serve(
    settings: Settings, address: str = "10.0.0.1", **changes: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A running app with ``changes`` to the settings, called from ``address``."""
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, http


async def post(
    http: httpx.AsyncClient, query: str, token: str | None = None, **variables: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"query": query, "variables": variables}
    response = await http.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def api_token(gql: GraphQLClient, owner_token: str) -> tuple[str, str]:
    """A new API token of the owner: (its global id, the token)."""
    data = await gql.op("CreateApiToken", owner_token, input={"name": "integration"})
    created = data["createApiToken"]
    return created["apiToken"]["id"], created["token"]


def cost_of(text: str, name: str, variables: dict[str, Any]) -> int:
    """The cost the server computes for ``text`` (default page size 20)."""
    return query_cost(schema._schema, parse(text), name, variables, 20)


def op_cost(name: str, **variables: Any) -> int:
    return cost_of(operation_documents()[name], name, variables)


async def test_headers_and_extensions_report_limit_cost_remaining_and_reset(settings) -> None:
    async with serve(settings, rate_limit_anonymous_points=100) as (_, http):
        first = await post(http, TYPENAME)
        second = await post(http, TYPENAME)

    report = second.json()["extensions"]["rateLimit"]
    assert first.json()["extensions"]["rateLimit"]["remaining"] == 99
    assert {k: report[k] for k in ("limit", "cost", "remaining")} == {
        "limit": 100,
        "cost": 1,
        "remaining": 98,
    }
    assert second.json()["extensions"]["cost"]["requestedQueryCost"] == report["cost"]
    assert second.headers["RateLimit-Limit"] == "100"
    assert second.headers["RateLimit-Remaining"] == "98"
    reset = int(second.headers["RateLimit-Reset"])
    assert 1 <= reset <= 60
    reset_at = datetime.fromisoformat(report["resetAt"].replace("Z", "+00:00"))
    assert abs((reset_at - datetime.now(UTC)).total_seconds() - reset) <= 2
    assert "Retry-After" not in second.headers


async def test_over_the_limit_the_operation_is_refused_and_writes_nothing(
    settings, make_user, db_engine
) -> None:
    owner = await make_user("owner")
    create = operation_documents()["CreateWorkspace"]
    cost = op_cost("CreateWorkspace", input={"name": "x"})
    async with serve(settings, rate_limit_user_points=2 * cost + 1) as (app, http):
        for name in ("One", "Two"):
            await post(http, create, owner.token, input={"name": name})
        with counting(app.state.synapse.db.engine) as log:
            refused = await post(http, create, owner.token, input={"name": "Three"})

    body = refused.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    retry_after = error["extensions"]["retryAfter"]
    assert 1 <= retry_after <= 60
    assert refused.headers["Retry-After"] == str(retry_after)
    assert refused.headers["RateLimit-Remaining"] == "1"
    assert body["extensions"]["rateLimit"]["remaining"] == 1
    assert not [s for s in log.statements if s.lstrip().upper().startswith("INSERT")]
    names = await scalar(db_engine, "SELECT array_agg(name ORDER BY name) FROM workspaces")
    assert names == ["One", "Two"]


async def test_tokens_users_and_addresses_have_their_own_budgets(settings, make_user, gql) -> None:
    user = await make_user("user")
    _, token = await api_token(gql, user.token)
    limits = {
        "rate_limit_anonymous_points": 2,
        "rate_limit_user_points": 5,
        "rate_limit_api_token_points": 7,
    }
    async with serve(settings, "10.0.0.1", **limits) as (_, http):
        anonymous = [await post(http, TYPENAME) for _ in range(3)]
        by_user = await post(http, TYPENAME, user.token)
        by_token = await post(http, TYPENAME, token)
    async with serve(settings, "10.0.0.2", **limits) as (_, other_http):
        other_address = await post(other_http, TYPENAME)

    assert [r.json().get("data") for r in anonymous] == [{"__typename": "Query"}] * 2 + [None]
    assert anonymous[2].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert by_user.json()["extensions"]["rateLimit"] == {
        **by_user.json()["extensions"]["rateLimit"],
        "limit": 5,
        "remaining": 4,
    }
    assert by_token.json()["extensions"]["rateLimit"]["limit"] == 7
    assert by_token.json()["extensions"]["rateLimit"]["remaining"] == 6
    assert other_address.json()["data"] == {"__typename": "Query"}


async def test_a_query_dearer_than_the_whole_budget_is_refused_as_too_costly(settings) -> None:
    query = "query Many { a: __typename b: __typename c: __typename }"
    async with serve(settings, rate_limit_anonymous_points=2) as (_, http):
        body = (await post(http, query)).json()
        after = (await post(http, TYPENAME)).json()

    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COSTLY"]
    assert after["extensions"]["rateLimit"]["remaining"] == 1  # the refusal took nothing


async def test_model_calls_are_limited_per_minute_and_a_refusal_calls_no_model(
    settings, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    model = await llm_global_id(db_engine, "synapse-dev")
    generate = operation_documents()["Generate"]
    given = {"input": {"workspaceId": workspace["id"], "model": model, "prompt": "Hi."}}
    twice = (
        "mutation GenerateTwice($input: GenerateInput!) {"
        " a: generate(input: $input) { __typename } b: generate(input: $input) { __typename } }"
    )
    async with serve(settings, rate_limit_model_calls=3) as (_, http):
        pair = await post(http, twice, owner.token, **given)
        single = await post(http, generate, owner.token, **given)
        refused = await post(http, generate, owner.token, **given)

    assert pair.json().get("data") is not None, pair.json()
    assert pair.json()["data"]["a"]["__typename"] == "Generation"
    assert single.json()["data"]["generate"]["__typename"] == "Generation"
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "Model call limit of 3" in error["message"]
    assert refused.headers["Retry-After"] == str(error["extensions"]["retryAfter"])
    # The refused call's points went back: only the three calls that ran were charged.
    report = refused.json()["extensions"]["rateLimit"]
    spent = cost_of(twice, "GenerateTwice", given) + op_cost("Generate", **given)
    assert report["remaining"] == report["limit"] - spent
    assert await scalar(db_engine, "SELECT count(*) FROM usage_logs") == 3


async def test_budgets_are_shared_between_processes_through_redis(
    settings, make_user, redis_url
) -> None:
    user = await make_user("shared")
    async with (
        serve(settings, redis_url=redis_url, rate_limit_user_points=3) as (_, first),
        serve(settings, redis_url=redis_url, rate_limit_user_points=3) as (_, second),
    ):
        one = await post(first, TYPENAME, user.token)
        two = await post(second, TYPENAME, user.token)
        three = await post(first, TYPENAME, user.token)
        refused = await post(second, TYPENAME, user.token)

    remaining = [r.json()["extensions"]["rateLimit"]["remaining"] for r in (one, two, three)]
    assert remaining == [2, 1, 0]
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_tokens_own_limit_applies_owner_lowers_admin_raises(
    settings, make_user, gql, db_engine
) -> None:
    owner = await make_user("owner")
    admin = await make_user("admin")
    stranger = await make_user("stranger")
    await make_admin(db_engine, admin.email)
    token_id, token = await api_token(gql, owner.token)
    defaults = {"rate_limit_api_token_points": 10, "rate_limit_model_calls": 5}

    async with serve(settings, **defaults) as (_, http):
        client = GraphQLClient(http)

        async def set_limit(actor: str, **limits: int) -> dict[str, Any]:
            given = {"tokenId": token_id, **limits}
            data = await client.op("SetApiTokenRateLimit", actor, input=given)
            return data["setApiTokenRateLimit"]

        too_high = await set_limit(owner.token, pointsPerMinute=11)
        not_theirs = await set_limit(stranger.token, pointsPerMinute=1)
        lowered = await set_limit(owner.token, pointsPerMinute=2)
        used = [await post(http, TYPENAME, token) for _ in range(3)]
        raised = await set_limit(admin.token, pointsPerMinute=20, modelCallsPerMinute=9)
        after = await post(http, TYPENAME, token)

    user_error(too_high, "FORBIDDEN", ["input", "pointsPerMinute"])
    user_error(not_theirs, "NOT_FOUND", ["input", "tokenId"])
    assert (lowered["pointsPerMinute"], lowered["modelCallsPerMinute"]) == (2, 5)
    assert [r.json()["extensions"]["rateLimit"]["limit"] for r in used[:2]] == [2, 2]
    assert used[2].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert (raised["pointsPerMinute"], raised["modelCallsPerMinute"]) == (20, 9)
    # The window keeps its two points spent; the new limit applies at once.
    assert after.json()["extensions"]["rateLimit"] == {
        **after.json()["extensions"]["rateLimit"],
        "limit": 20,
        "remaining": 17,
    }
    stored = await scalar(
        db_engine,
        "SELECT points_per_minute * 100 + model_calls_per_minute FROM api_token_rate_limits",
    )
    assert stored == 2009


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_take_adds_only_within_the_maximum_and_gives_back(backend, redis_url) -> None:
    import uuid

    store = MemoryCounterStore() if backend == "memory" else RedisCounterStore(redis_url)
    key = f"test:take:{uuid.uuid4()}"
    try:
        results = [await store.take(key, amount, 10, 60) for amount in (4, 4, 4, -4, 4)]
    finally:
        await store.close()

    assert [(r.ok, r.used) for r in results] == [
        (True, 4),
        (True, 8),
        (False, 8),
        (True, 4),
        (True, 8),
    ]
    assert all(0 < r.resets_in <= 60 for r in results)


async def test_a_subscription_pays_its_cost_once_when_it_subscribes(
    settings, make_user, make_workspace
) -> None:
    workspace_cost = op_cost("LiveWorkspaceUsage", workspaceId="x")
    limit = workspace_cost + 2
    async with served(settings, rate_limit_user_points=limit) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        channel = workspace_metrics_channel(db_id(workspace["id"]))
        broadcaster = server.app.state.synapse.realtime
        async with connect(server.ws_url, owner.token) as socket:
            await socket.start("LiveWorkspaceUsage", workspaceId=workspace["id"])
            await wait_for(lambda: _true(broadcaster.subscriber_count(channel) == 1))
            second = await socket.start("LiveWorkspaceUsage", workspaceId=workspace["id"])
            refused = await asyncio.wait_for(socket._queues[second.id].get(), 30)
            ping = await post(server.gql.http, TYPENAME, owner.token)
            still_one = broadcaster.subscriber_count(channel)

    [error] = refused["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert still_one == 1
    assert ping.json()["extensions"]["rateLimit"]["remaining"] == limit - workspace_cost - 1


async def _true(value: bool) -> bool:
    return value


@pytest.mark.parametrize("exempt", [True, False])
async def test_platform_admins_are_exempt_only_when_configured(
    settings, make_user, db_engine, exempt
) -> None:
    admin = await make_user("admin")
    await make_admin(db_engine, admin.email)
    changes = {"rate_limit_user_points": 1, "rate_limit_exempt_admins": exempt}
    async with serve(settings, **changes) as (_, http):
        bodies = [(await post(http, TYPENAME, admin.token)).json() for _ in range(2)]

    assert [body["data"] for body in bodies] == (
        [{"__typename": "Query"}] * 2 if exempt else [{"__typename": "Query"}, None]
    )
    assert ("rateLimit" in bodies[0]["extensions"]) is not exempt
