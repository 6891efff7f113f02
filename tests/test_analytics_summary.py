"""usageSummary: for random filters, ranges, granularities and groupings, every bucket
equals a plain GROUP BY over usage_logs (percentiles within the histogram's error);
metering keeps the hourly, daily and monthly rollups equal to a rebuild; whole days and
months by model or provider come from the coarse rollups; bad ranges and roles give typed errors."""

from __future__ import annotations

import asyncio
import random
import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from synapse_gql.analytics import histogram
from synapse_gql.analytics.rollups import rebuild_rollups
from synapse_gql.gql.relay import to_global_id
from synapse_gql.metering import record_call
from synapse_gql.models import UsageStatus
from tests.analytics_data import (
    GROUP_COLUMNS,
    SPAN,
    START,
    Dimensions,
    insert_random_usage,
    plain_aggregate,
)
from tests.helpers import db_id, execute, fetch, make_admin, user_error
from tests.metering_helpers import make_scene, model, record

GRANULARITY_SPANS = {
    "HOUR": timedelta(days=3),
    "DAY": timedelta(days=40),
    "WEEK": timedelta(days=50),
    "MONTH": timedelta(days=50),
}
SUMS = (
    "calls",
    "errors",
    "cancelled",
    "inputTokens",
    "outputTokens",
    "cacheReadTokens",
    "cacheWriteTokens",
)
GLOBAL_TYPES = {
    "MODEL": "LLM",
    "USER": "User",
    "PROJECT": "Project",
    "AGENT": "Agent",
    "API_TOKEN": "ApiToken",
}
BUCKET_FIELDS = {
    "MODEL": "llmId",
    "PROVIDER": "provider",
    "USER": "userId",
    "PROJECT": "projectId",
    "AGENT": "agentId",
    "API_TOKEN": "apiTokenId",
    "STATUS": "status",
    "KEY_SOURCE": "keySource",
}


async def _workspace_with_dimensions(gql, make_user, make_workspace, add_member, engine):
    owner = await make_user("owner")
    member = await make_user("member")
    workspace = await make_workspace(owner)
    await add_member(owner, workspace, member)
    projects = []
    for name in ("Alpha", "Beta"):
        made = await gql.op(
            "CreateProject", owner.token, input={"workspaceId": workspace["id"], "name": name}
        )
        projects.append(db_id(made["createProject"]["id"]))
    llms = [
        (r.id, r.provider)
        for r in await fetch(
            engine,
            "SELECT DISTINCT ON (provider) id, provider FROM llms ORDER BY provider, model_id",
        )
    ]
    agent = await gql.op(
        "CreateAgent",
        owner.token,
        input={
            "workspaceId": workspace["id"],
            "name": "Helper",
            "llmId": to_global_id("LLM", llms[0][0]),
        },
    )
    token = await gql.op("CreateApiToken", owner.token, input={"name": "ci"})
    dims = Dimensions(
        workspace_id=db_id(workspace["id"]),
        users=[db_id(owner.id), db_id(member.id), None],
        projects=[*projects, None],
        agents=[db_id(agent["createAgent"]["id"]), None],
        tokens=[db_id(token["createApiToken"]["apiToken"]["id"]), None],
        llms=llms,
    )
    return owner, member, workspace, dims


def _random_case(rng: random.Random, dims: Dimensions, shape: str) -> dict[str, Any]:
    """A random query; ``shape`` "whole" (whole hours: no usage row read), "inside" (within
    one hour: no rollup read) or "any" (rollups and both edges)."""
    granularity = rng.choice(list(GRANULARITY_SPANS))
    longest = GRANULARITY_SPANS[granularity]
    start = START + timedelta(seconds=rng.randrange(-86400, int(SPAN.total_seconds())))
    length = timedelta(seconds=rng.randrange(60, int(longest.total_seconds())))
    if shape == "inside":
        start = start.replace(minute=5)
        length = timedelta(minutes=rng.randint(1, 50))
    end = start + length
    if shape == "whole":
        start = start.replace(minute=0, second=0)
        end = end.replace(minute=0, second=0) + timedelta(hours=1)
    group_by = rng.sample(list(GROUP_COLUMNS), rng.choice([0, 1, 1, 2]))
    filters, where, params = _random_filter(rng, dims)
    return {
        "granularity": granularity,
        "start": start,
        "end": end,
        "group_by": group_by,
        "filter": filters,
        "where": where,
        "params": params,
    }


def _random_filter(rng: random.Random, dims: Dimensions) -> tuple[dict, str, dict]:
    kind = rng.choice(["none", "status", "user", "llm", "project", "keySource", "provider"])
    if kind == "status":
        status = rng.choice(list(UsageStatus))
        return {"statuses": [status.name]}, "status = :v", {"v": status.value}
    if kind == "user":
        user = dims.users[0]
        return {"userIds": [to_global_id("User", user)]}, "user_id = :v", {"v": user}
    if kind == "llm":
        llm = dims.llms[0][0]
        return {"llmIds": [to_global_id("LLM", llm)]}, "llm_id = :v", {"v": llm}
    if kind == "project":
        projects = [p for p in dims.projects if p is not None]
        ids = [to_global_id("Project", p) for p in projects]
        return {"projectIds": ids}, "project_id = ANY(:v)", {"v": projects}
    if kind == "keySource":
        return {"keySources": ["USER", "GLOBAL"]}, "api_key_source IN ('user', 'global')", {}
    if kind == "provider":
        provider = dims.llms[-1][1]
        return {"providers": [provider]}, "provider = :v", {"v": provider}
    return {}, "true", {}


def _key_of(bucket: dict[str, Any], group_by: list[str]) -> tuple:
    values = []
    for group in group_by:
        value = bucket[BUCKET_FIELDS[group]]
        values.append(db_id(value) if value is not None and group in GLOBAL_TYPES else value)
    return (datetime.fromisoformat(bucket["start"]), *values)


def _expected_key(row: Any, group_by: list[str], start: datetime) -> tuple:
    values = []
    for group in group_by:
        value = getattr(row, GROUP_COLUMNS[group])
        values.append(value.upper() if group in ("STATUS", "KEY_SOURCE") else value)
    return (max(row.bucket, start), *values)


def _assert_percentile(got: int | None, exact: int | None) -> None:
    if exact is None:
        assert got is None
        return
    assert histogram.bucket_of(got) == histogram.bucket_of(exact), (got, exact)
    assert abs(got - exact) <= histogram.RELATIVE_ERROR * exact, (got, exact)


def _assert_same(bucket: dict[str, Any], row: Any) -> None:
    for name in SUMS:
        column = "".join("_" + c.lower() if c.isupper() else c for c in name)
        assert bucket[name] == getattr(row, column), (name, bucket, row)
    assert Decimal(bucket["cost"]) == row.cost
    _assert_percentile(bucket["latencyP50"], row.latency_p50)
    _assert_percentile(bucket["latencyP95"], row.latency_p95)
    _assert_percentile(bucket["ttftP50"], row.ttft_p50)
    _assert_percentile(bucket["ttftP95"], row.ttft_p95)


async def test_random_summaries_equal_a_plain_group_by(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    # Given 400 random usage rows over 45 days and rollups built from them
    owner, _, workspace, dims = await _workspace_with_dimensions(
        gql, make_user, make_workspace, add_member, db_engine
    )
    rng = random.Random(20261201)
    await insert_random_usage(db_engine, rng, dims, 400)
    compared = 0
    for shape in ["whole", "inside", "whole", "inside"] + ["any"] * 12:
        case = _random_case(rng, dims, shape)
        # when a summary is asked over HTTP
        data = await gql.op(
            "UsageSummary",
            owner.token,
            workspaceId=workspace["id"],
            filter={
                **case["filter"],
                "from": case["start"].isoformat(),
                "to": case["end"].isoformat(),
            },
            granularity=case["granularity"],
            groupBy=case["group_by"],
        )
        summary = data["usageSummary"]
        assert summary["__typename"] == "UsageSummary", summary
        # then every bucket and the totals equal the plain GROUP BY over usage_logs.
        rows = await plain_aggregate(
            db_engine,
            dims.workspace_id,
            case["start"],
            case["end"],
            case["granularity"],
            case["group_by"],
            case["where"],
            **case["params"],
        )
        expected = {_expected_key(row, case["group_by"], case["start"]): row for row in rows}
        got = {_key_of(bucket, case["group_by"]): bucket for bucket in summary["buckets"]}
        assert got.keys() == expected.keys(), case
        compared += len(got)
        for key, bucket in got.items():
            _assert_same(bucket, expected[key])
        totals = await plain_aggregate(
            db_engine,
            dims.workspace_id,
            case["start"],
            case["end"],
            None,
            [],
            case["where"],
            **case["params"],
        )
        if totals:
            _assert_same(summary["totals"], totals[0])
        else:
            assert summary["totals"]["calls"] == 0
    assert compared >= 100


def _reads(statements: list[str]) -> dict[str, int]:
    """How many statements read each source of a summary."""
    return {
        "monthly": sum("usage_rollups_monthly" in sql for sql in statements),
        "daily": sum("usage_rollups_daily" in sql for sql in statements),
        "hourly": sum(re.search(r"\busage_rollups\b(?!_)", sql) is not None for sql in statements),
        "rows": sum("usage_logs" in sql for sql in statements),
    }


DAY_RANGE = (START + timedelta(days=3, hours=10, minutes=30), START + timedelta(days=23, hours=16))
MONTH_RANGE = (START - timedelta(days=1, hours=13, minutes=30), START + timedelta(days=44, hours=6))
SOURCE_CASES = [
    # operation, granularity, group by, range, statements on (monthly, daily, hourly, rows)
    ("UsageSummary", "DAY", "MODEL", DAY_RANGE, (0, 1, 1, 1)),
    ("UsageSpend", "DAY", "MODEL", DAY_RANGE, (0, 1, 1, 1)),
    ("UsageSummary", "MONTH", "PROVIDER", MONTH_RANGE, (1, 1, 1, 1)),
    ("UsageSpend", "MONTH", "PROVIDER", MONTH_RANGE, (1, 1, 1, 1)),
    ("UsageSummary", "DAY", "USER", DAY_RANGE, (0, 0, 1, 1)),
    (
        "UsageSummary",
        "HOUR",
        "MODEL",
        (DAY_RANGE[0], DAY_RANGE[0] + timedelta(days=2)),
        (0, 0, 1, 1),
    ),
]


async def test_coarse_rollups_serve_whole_days_and_months(
    gql, make_user, make_workspace, add_member, db_engine, sql_log
) -> None:
    """Ranges that start and end inside an hour, by model or provider: whole months come
    from the monthly rollups (MONTH buckets), other whole days from the daily ones, the
    other whole hours from the hourly ones, the edges from usage rows; grouped by user or
    by hour, only hourly rollups and rows. Every answer equals the plain GROUP BY."""
    owner, _, workspace, dims = await _workspace_with_dimensions(
        gql, make_user, make_workspace, add_member, db_engine
    )
    await insert_random_usage(db_engine, random.Random(11), dims, 300)
    for operation, granularity, group, (start, end), reads in SOURCE_CASES:
        with sql_log() as log:
            data = await gql.op(
                operation,
                owner.token,
                workspaceId=workspace["id"],
                filter={"from": start.isoformat(), "to": end.isoformat()},
                granularity=granularity,
                groupBy=[group],
            )
        case = (operation, granularity, group)
        assert tuple(_reads(log.statements).values()) == reads, case
        summary = data["usageSummary"]
        totals = await plain_aggregate(db_engine, dims.workspace_id, start, end, None, [])
        assert summary["totals"]["calls"] == totals[0].calls, case
        assert Decimal(summary["totals"]["cost"]) == totals[0].cost, case
        if operation == "UsageSpend":
            continue
        _assert_same(summary["totals"], totals[0])
        rows = await plain_aggregate(db_engine, dims.workspace_id, start, end, granularity, [group])
        expected = {_expected_key(row, [group], start): row for row in rows}
        got = {_key_of(bucket, [group]): bucket for bucket in summary["buckets"]}
        assert got.keys() == expected.keys(), case
        for key, bucket in got.items():
            _assert_same(bucket, expected[key])


async def _rollup_rows(engine) -> dict[str, list[tuple]]:
    rows = {}
    for table in ("usage_rollups", "usage_rollups_daily", "usage_rollups_monthly"):
        found = await fetch(engine, f"SELECT * FROM {table}")
        rows[table] = sorted(
            (tuple(v for k, v in row._mapping.items() if k != "id") for row in found), key=repr
        )
    return rows


async def test_metering_keeps_rollups_equal_to_a_rebuild(
    make_user, make_workspace, db_engine, database_url
) -> None:
    """Given a conversation with an agent, when calls are metered (success, a failure
    after retried attempts, a cancelled one, one without latency), then the usage rows
    carry the agent, each row costs one rollup statement, and the rollups equal a rebuild
    from usage_logs alone."""
    from synapse_gql.db import Database
    from synapse_gql.metering import AttemptRecord
    from tests.sqlcount import counting

    scene = await make_scene(make_user, make_workspace, db_engine)
    gpt4o = await model(db_engine, "gpt-4o")
    agent = await _insert_agent(db_engine, scene.workspace_id, gpt4o.id)
    await execute(
        db_engine,
        "UPDATE conversations SET agent_id = :a WHERE id = :c",
        a=agent,
        c=scene.conversation_id,
    )
    calls = [
        scene.call(
            gpt4o, input_tokens=100, output_tokens=50, latency_ms=900, time_to_first_token_ms=120
        ),
        scene.call(
            gpt4o, input_tokens=80, output_tokens=20, latency_ms=950, time_to_first_token_ms=130
        ),
        scene.call(
            gpt4o,
            input_tokens=10,
            status=UsageStatus.ERROR,
            latency_ms=40,
            earlier_attempts=[AttemptRecord(attempt=1, error_code="RATE_LIMIT")],
            attempt=2,
        ),
        scene.call(gpt4o, output_tokens=5, status=UsageStatus.CANCELLED, latency_ms=3000),
        scene.call(gpt4o, input_tokens=1, output_tokens=1),
    ]
    db = Database(database_url, pool_size=1)
    logs = []
    try:
        for call in calls:
            with counting(db.engine) as log:
                await record(db, call)
            logs.append(log.statements)
    finally:
        await db.dispose()
    # One per metering transaction, its last before the COMMIT: the retried attempt's row
    # is counted by its call's statement.
    assert [[sql for sql in sent if "usage_rollups" in sql] for sent in logs] == [
        [sent[-1]] for sent in logs
    ]
    agents = await fetch(db_engine, "SELECT agent_id FROM usage_logs")
    assert [row.agent_id for row in agents] == [agent] * 6
    metered = await _rollup_rows(db_engine)
    async with db_engine.begin() as conn:
        await rebuild_rollups(conn)
    assert await _rollup_rows(db_engine) == metered
    [success] = await fetch(
        db_engine,
        "SELECT calls, latency_hist, ttft_hist FROM usage_rollups WHERE status = 'success'",
    )
    assert success.calls == 3
    assert sum(success.latency_hist) == 2
    assert sum(success.ttft_hist) == 2
    for table in ("usage_rollups_daily", "usage_rollups_monthly"):
        [period] = await fetch(db_engine, f"SELECT calls, errors, cancelled FROM {table}")
        assert (period.calls, period.errors, period.cancelled) == (6, 2, 1)


async def test_concurrent_metering_counts_every_call_once(
    make_user, make_workspace, db_engine, database_url
) -> None:
    """Given 40 calls of two models metered in concurrent transactions (one rolled back),
    then the rollups hold the 39 committed calls and equal a rebuild."""
    from synapse_gql.db import Database

    scene = await make_scene(make_user, make_workspace, db_engine)
    models = [await model(db_engine, "gpt-4o"), await model(db_engine, "gpt-4o-mini")]
    calls = [
        scene.call(models[i % 2], input_tokens=i + 1, output_tokens=i, latency_ms=10 * i + 5)
        for i in range(40)
    ]
    db = Database(database_url, pool_size=10)

    async def abandoned(call) -> None:
        async with db.sessions() as session, session.begin():
            await record_call(session, call)
            await session.rollback()

    try:
        await asyncio.gather(*(record(db, call) for call in calls[1:]), abandoned(calls[0]))
    finally:
        await db.dispose()
    metered = await _rollup_rows(db_engine)
    [[hourly_calls]] = await fetch(db_engine, "SELECT sum(calls) FROM usage_rollups")
    [[monthly_calls]] = await fetch(db_engine, "SELECT sum(calls) FROM usage_rollups_monthly")
    assert (hourly_calls, monthly_calls) == (39, 39)
    async with db_engine.begin() as conn:
        await rebuild_rollups(conn)
    assert await _rollup_rows(db_engine) == metered


async def _insert_agent(engine, workspace_id, llm_id):
    import uuid

    agent_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO agents (id, workspace_id, name, llm_id, parameters, status)"
        " VALUES (:id, :w, 'Helper', :llm, '{}', 'active')",
        id=agent_id,
        w=workspace_id,
        llm=llm_id,
    )
    return agent_id


async def test_bad_ranges_are_typed_errors(gql, make_user, make_workspace) -> None:
    """From after to, a range over the limit and a granularity too fine for the range are
    INVALID_INPUT with the path of the argument at fault."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)

    async def ask(start: str, end: str, granularity: str = "DAY") -> dict:
        data = await gql.op(
            "UsageSummary",
            owner.token,
            workspaceId=workspace["id"],
            filter={"from": start, "to": end},
            granularity=granularity,
        )
        return data["usageSummary"]

    user_error(
        await ask("2026-03-02T00:00:00Z", "2026-03-01T00:00:00Z"),
        "INVALID_INPUT",
        ["filter", "from"],
    )
    user_error(
        await ask("2010-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "MONTH"),
        "INVALID_INPUT",
        ["filter", "to"],
    )
    user_error(
        await ask("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "HOUR"),
        "INVALID_INPUT",
        ["granularity"],
    )
    fine = await ask("2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "WEEK")
    assert fine["__typename"] == "UsageSummary"
    assert fine["totals"]["calls"] == 0


async def test_roles_decide_who_reads_usage(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    """Members read their workspace's summary and their own across workspaces; viewers
    are forbidden, outsiders find nothing; a model's summary is for platform admins."""
    owner, member, workspace, dims = await _workspace_with_dimensions(
        gql, make_user, make_workspace, add_member, db_engine
    )
    viewer = await make_user("viewer")
    await add_member(owner, workspace, viewer, "VIEWER")
    outsider = await make_user("outsider")
    await insert_random_usage(db_engine, random.Random(7), dims, 60)
    window = {"from": START.isoformat(), "to": (START + SPAN).isoformat()}
    everyone = await plain_aggregate(db_engine, dims.workspace_id, START, START + SPAN, None, [])
    mine = await plain_aggregate(
        db_engine, dims.workspace_id, START, START + SPAN, None, [], "user_id = :u", u=dims.users[1]
    )

    async def workspace_summary(account) -> dict:
        data = await gql.op(
            "UsageSummary",
            account.token,
            workspaceId=workspace["id"],
            filter=window,
            granularity="MONTH",
        )
        return data["usageSummary"]

    assert (await workspace_summary(member))["totals"]["calls"] == everyone[0].calls
    user_error(await workspace_summary(viewer), "FORBIDDEN", ["workspaceId"])
    user_error(await workspace_summary(outsider), "NOT_FOUND", ["workspaceId"])

    own = await gql.op("MyUsageSummary", member.token, filter=window, granularity="MONTH")
    assert own["me"]["usageSummary"]["totals"]["calls"] == mine[0].calls
    project = await gql.op(
        "ProjectUsageSummary",
        member.token,
        projectId=to_global_id("Project", dims.projects[0]),
        filter=window,
        granularity="MONTH",
    )
    project_rows = await plain_aggregate(
        db_engine,
        dims.workspace_id,
        START,
        START + SPAN,
        None,
        [],
        "project_id = :p",
        p=dims.projects[0],
    )
    assert project["node"]["usageSummary"]["totals"]["calls"] == project_rows[0].calls

    llm = to_global_id("LLM", dims.llms[0][0])
    refused = await gql.op(
        "LLMUsageSummary", owner.token, llmId=llm, filter=window, granularity="MONTH"
    )
    user_error(refused["node"]["usageSummary"], "FORBIDDEN")
    await make_admin(db_engine, outsider.email)
    admin = await gql.op(
        "LLMUsageSummary", outsider.token, llmId=llm, filter=window, granularity="MONTH"
    )
    of_model = await plain_aggregate(
        db_engine,
        dims.workspace_id,
        START,
        START + SPAN,
        None,
        [],
        "llm_id = :m",
        m=dims.llms[0][0],
    )
    assert admin["node"]["usageSummary"]["totals"]["calls"] == of_model[0].calls


ALIASED = """
query Aliased($workspaceId: ID!, $filter: UsageFilter) {
  usageSummary(workspaceId: $workspaceId, filter: $filter, groupBy: [MODEL]) {
    ... on UsageSummary {
      buckets {
        __typename
        n: calls
        calls
        spent: cost
        ... on UsageBucket { slow: latencyP95 llmId }
        ...Dimensions
      }
    }
  }
}
fragment Dimensions on UsageBucket { user: userId keySource }
"""


async def test_aliases_and_fragments_of_bucket_figures(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    """The bucket figures GraphQL completes straight from their attributes answer under
    aliases, twice, through fragments and beside ``__typename`` as the plain fields do."""
    owner, _, workspace, dims = await _workspace_with_dimensions(
        gql, make_user, make_workspace, add_member, db_engine
    )
    await insert_random_usage(db_engine, random.Random(5), dims, 40)
    variables = {
        "workspaceId": workspace["id"],
        "filter": {"from": START.isoformat(), "to": (START + SPAN).isoformat()},
    }
    plain = await gql.op("UsageSummary", owner.token, groupBy=["MODEL"], **variables)
    aliased = await gql.query(ALIASED, variables, owner.token)
    assert "errors" not in aliased, aliased
    expected = [
        {
            "__typename": "UsageBucket",
            "n": bucket["calls"],
            "calls": bucket["calls"],
            "spent": bucket["cost"],
            "slow": bucket["latencyP95"],
            "llmId": bucket["llmId"],
            "user": None,
            "keySource": None,
        }
        for bucket in plain["usageSummary"]["buckets"]
    ]
    assert expected
    assert aliased["data"]["usageSummary"]["buckets"] == expected
