"""``/metrics``: GraphQL operations by outcome, model calls with their tokens and cost,
subscriptions and sockets open, the database pool, and the optional bearer token."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from tests.chat_helpers import served
from tests.generation_helpers import generate, llm_global_id, make_team, running, usage_rows
from tests.llm_fakes import FakeHost
from tests.observability_helpers import Scrape, scrape
from tests.ws_client import connect

REQUESTS = "graphql_requests_total"
GLOBAL_KEY = SecretStr("sk-global-key-0000000003333")


@pytest.fixture
def settings(settings: Settings, openai_host: FakeHost) -> Settings:
    """The test settings with OpenAI on the fake and a server-wide key for it."""
    changes = {"provider_base_urls": {"openai": openai_host.base_url}, "openai_api_key": GLOBAL_KEY}
    return settings.model_copy(update=changes)


def moved(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


async def test_a_query_counts_one_ok_operation_and_its_duration(http, gql, make_user) -> None:
    """Given a user, when they run ``Me``, then ``Me`` counts once as an ok query and its
    duration histogram gains one observation."""
    user = await make_user("ada")
    before = await scrape(http)

    await gql.op("Me", user.token)

    after = await scrape(http)
    assert moved(before, after, REQUESTS, operation="Me", type="query", outcome="ok") == 1
    duration = "graphql_request_duration_seconds_count"
    assert moved(before, after, duration, operation="Me", type="query") == 1


async def test_outcomes_user_error_refused_and_error(http, gql, make_user, monkeypatch) -> None:
    """Given a wrong password, a broken document and a crashing service, then each counts
    once under its own outcome, and none as ok."""
    user = await make_user("ada")

    async def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("synapse_gql.workspaces.service.create_workspace", crash)
    before = await scrape(http)

    login = await gql.op("Login", input={"email": user.email, "password": "wrong password!"})
    assert login["login"]["__typename"] == "UserError", login
    await gql.raw("query Broken { me { ", operation="Broken")
    crashing = 'mutation Crash { createWorkspace(input: {name: "T"}) { __typename } }'
    await gql.raw(crashing, token=user.token)

    after = await scrape(http)
    login_labels = {"operation": "Login", "type": "mutation"}
    assert moved(before, after, REQUESTS, **login_labels, outcome="user_error") == 1
    assert moved(before, after, REQUESTS, **login_labels, outcome="ok") == 0
    broken = {"operation": "Broken", "type": "unknown", "outcome": "refused"}
    assert moved(before, after, REQUESTS, **broken) == 1
    crash_labels = {"operation": "Crash", "type": "mutation", "outcome": "error"}
    assert moved(before, after, REQUESTS, **crash_labels) == 1


async def test_a_generate_call_counts_the_call_its_tokens_and_its_cost(
    http, gql, make_user, make_workspace, db_engine
) -> None:
    """Given gpt-4o on the fake host, when a member generates once, then one ok call, the
    tokens of its usage row (21 input, 9 output) and its cost (0.00024 USD) are counted."""
    team = await make_team(make_user, make_workspace)
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    before = await scrape(http)

    result = await generate(gql, team.owner.token, team.workspace, gpt4o)

    after = await scrape(http)
    assert result["__typename"] == "Generation", result
    [row] = await usage_rows(db_engine)
    model = {"provider": "openai", "model": "gpt-4o"}
    assert moved(before, after, "llm_calls_total", **model, status="ok") == 1
    assert moved(before, after, "llm_tokens_total", **model, kind="input") == row.input_tokens
    assert moved(before, after, "llm_tokens_total", **model, kind="output") == row.output_tokens
    assert (row.input_tokens, row.output_tokens) == (21, 9)
    cost = moved(before, after, "llm_cost_usd_total", **model)
    assert Decimal(str(round(cost, 10))) == row.cost == Decimal("0.00024")
    assert after.value("llm_generations_in_flight") == before.value("llm_generations_in_flight")


async def test_a_subscription_and_its_socket_are_gauged_while_open(settings, make_user) -> None:
    """Given a served app, when a member opens a socket and subscribes to their workspace's
    live usage, then both gauges rise by one; once the socket closes, they fall back."""
    async with served(settings) as app:
        http = app.gql.http
        owner = (await app.gql.op("Register", input=_register("sub")))["register"]
        token = owner["accessToken"]
        workspace = await app.gql.op("CreateWorkspace", token, input={"name": "W"})
        workspace_id = workspace["createWorkspace"]["id"]
        before = await scrape(http)

        async with connect(app.ws_url, token) as socket:
            await socket.start("LiveWorkspaceUsage", workspaceId=workspace_id)
            during = await _until(http, before, 1, *GAUGES)
            assert [moved(before, during, gauge) for gauge in GAUGES] == [1, 1]

        after = await _until(http, before, 0, *GAUGES)
        assert [moved(before, after, gauge) for gauge in GAUGES] == [0, 0]


def _register(name: str) -> dict:
    return {"email": f"{name}@example.com", "name": name, "password": "correct horse battery"}


GAUGES = ("graphql_subscriptions_open", "websocket_connections_open")


async def _until(http: httpx.AsyncClient, before: Scrape, change: int, *gauges: str) -> Scrape:
    """The first scrape (of at most 1,000) where every one of ``gauges`` moved by
    ``change`` from ``before`` (the socket's gauge and its subscription's move apart)."""
    for _ in range(1_000):
        current = await scrape(http)
        if all(moved(before, current, gauge) == change for gauge in gauges):
            return current
        await asyncio.sleep(0.02)
    raise AssertionError(f"{gauges} never all moved by {change}")


async def test_the_database_pool_is_read_at_scrape_time(http, gql, make_user) -> None:
    """Given the test app's pool of 5, when scraped after requests finished, then the size
    is 5 and no connection is checked out or in overflow."""
    await make_user("ada")

    current = await scrape(http)

    assert current.value("db_pool_size") == 5
    assert current.value("db_pool_checked_out") == 0
    assert current.value("db_pool_overflow") == 0


async def test_a_metrics_token_is_required_when_set(settings) -> None:
    """Given ``SYNAPSE_METRICS_TOKEN``, then /metrics answers 401 without it or with another
    token, and the metrics with it."""
    guarded = settings.model_copy(update={"metrics_token": SecretStr("scrape-secret")})
    async with running(create_app(guarded)) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            missing = await http.get("/metrics")
            wrong = await http.get("/metrics", headers={"Authorization": "Bearer other"})
            allowed = await scrape(http, "scrape-secret")
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    assert allowed.value("db_pool_size") == 5


WORKER = """
from synapse_gql.observability import metrics
metrics.GRAPHQL_REQUESTS.labels("Me", "query", "ok").inc()
metrics.WEBSOCKETS_OPEN.inc()
"""
SCRAPER = """
from synapse_gql.observability import metrics
print(metrics.scrape().decode())
"""


def test_worker_processes_share_their_counts(settings, tmp_path) -> None:
    """Given ``--workers 2`` (a shared metrics directory), when each worker counts one
    request and one open socket, then a scrape from any process reports both of each; a
    worker's open sockets stop counting once it is marked as exited."""
    import os
    import subprocess
    import sys

    from synapse_gql.observability.wiring import share_metrics_between

    directory = tmp_path / "metrics"
    (directory / "stale").mkdir(parents=True)
    environ = os.environ.copy()
    saved = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    try:
        chosen = share_metrics_between(2, settings.model_copy(update={"metrics_dir": directory}))
        environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    finally:
        if saved is None:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        else:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved
    assert chosen == directory
    assert not (directory / "stale").exists()  # values of an earlier run are dropped
    workers = [subprocess.Popen([sys.executable, "-c", WORKER], env=environ) for _ in range(2)]
    assert [worker.wait() for worker in workers] == [0, 0]

    run = subprocess.run([sys.executable, "-c", SCRAPER], env=environ, capture_output=True)

    current = Scrape(run.stdout.decode())
    assert current.value(REQUESTS, operation="Me", type="query", outcome="ok") == 2
    assert current.value("websocket_connections_open") == 2
    assert current.value("db_pool_size") == 0  # no pool in the scraping process
    pids = ", ".join(str(worker.pid) for worker in workers)
    exited = f"from synapse_gql.observability import metrics\nfor pid in ({pids},):\n"
    exited += "    metrics.process_exited(pid)\n"
    subprocess.run([sys.executable, "-c", exited + SCRAPER], env=environ, check=True)

    rerun = subprocess.run([sys.executable, "-c", SCRAPER], env=environ, capture_output=True)

    later = Scrape(rerun.stdout.decode())
    assert later.value("websocket_connections_open") == 0
    assert later.value(REQUESTS, operation="Me", type="query", outcome="ok") == 2
