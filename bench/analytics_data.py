"""The data of ``bench.analytics``: one workspace of 50 users (members), 10 projects and
20 models, and usage rows spread evenly over 90 days, made with ``generate_series`` in a
database of its own, then the rollups rebuilt from the usage rows.

Each user works in one project (``user % 10``) and calls four models (``user + 5k``,
modulo 20): every model has calls every hour, as a team's usage would. One call in 20
(at random) fails, one in 20 is cancelled; latencies are log-uniform from 245 ms to 4.9 s,
the time to the first token a random part of it (null for the failed and cancelled ones).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.reads_data import create_database, plain_url
from synapse_gql.analytics.rollups import COARSE_ROLLUPS, coarse_rebuild_sql, rebuild_sql

END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=90)
USERS = 50
PROJECTS = 10
MODELS = 20
CHUNK = 1_000_000

EXTRA_MODELS = """
INSERT INTO llms (id, provider, model_id, display_name, input_price_per_million,
                  output_price_per_million, context_window, max_output_tokens,
                  supports_streaming, supports_vision, supports_tools, is_active)
SELECT gen_random_uuid(), 'bench', 'bench-model-' || n, 'Bench model ' || n, n, 2 * n,
       128000, 4096, true, false, false, true
FROM generate_series(1, $1) AS n
"""

USER_ROWS = """
INSERT INTO users (id, email, name, password_hash)
SELECT id, 'bench-analytics-' || n || '@example.com', 'User ' || n, 'not a hash'
FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)
"""

WORKSPACE = """
INSERT INTO workspaces (id, name, slug, description, plan, settings, owner_id)
VALUES ($1, 'Analytics bench', 'bench-analytics', '', 'free', '{}', $2)
"""

MEMBERS = """
INSERT INTO workspace_members (id, workspace_id, user_id, role)
SELECT gen_random_uuid(), $1, id, CASE WHEN id = $2 THEN 'owner' ELSE 'member' END
FROM unnest($3::uuid[]) AS id
"""

PROJECT_ROWS = """
INSERT INTO projects (id, workspace_id, name, status, created_by_id)
SELECT id, $1, 'Project ' || n, 'active', $2
FROM unnest($3::uuid[]) WITH ORDINALITY AS p(id, n)
"""

# $1 workspace, $2 users, $3 projects, $4 models (ordered), $5 start, $6 end, $7 first
# row number, $8 rows in this chunk, $9 rows in all.
USAGE = """
INSERT INTO usage_logs (id, user_id, workspace_id, project_id, llm_id, provider, model_id,
                        input_tokens, output_tokens, cache_read_tokens, total_tokens,
                        input_price_per_million, output_price_per_million, cost,
                        latency_ms, time_to_first_token_ms, status, parameters,
                        api_key_source, created_at)
SELECT gen_random_uuid(), ($2::uuid[])[1 + r.u], $1, ($3::uuid[])[1 + r.u % 10], l.id,
       l.provider, l.model_id, r.input, r.output, r.cache_read, r.input + r.output + r.cache_read,
       l.input_price_per_million, l.output_price_per_million,
       (r.input * l.input_price_per_million + r.output * l.output_price_per_million) / 1000000,
       r.latency, CASE WHEN r.luck >= 0.1 THEN (r.latency * random() * 0.4)::int END,
       CASE WHEN r.luck < 0.05 THEN 'error' WHEN r.luck < 0.1 THEN 'cancelled'
            ELSE 'success' END,
       '{}', 'workspace', $5::timestamptz + r.i * ($6::timestamptz - $5::timestamptz) / $9
FROM (
  SELECT i, (i * 7) % 50 AS u, ((i * 7) % 50 + 5 * ((i / 50) % 4)) % 20 AS m,
         100 + (random() * 4000)::int AS input, 20 + (random() * 1500)::int AS output,
         CASE WHEN i % 3 = 0 THEN (random() * 2000)::int ELSE 0 END AS cache_read,
         exp(5.5 + random() * 3)::int AS latency, random() AS luck
  FROM generate_series($7::bigint, $7::bigint + $8 - 1) AS i
) AS r
JOIN (
  SELECT m.n - 1 AS m, llms.id, llms.provider, llms.model_id,
         llms.input_price_per_million, llms.output_price_per_million
  FROM unnest($4::uuid[]) WITH ORDINALITY AS m(id, n) JOIN llms ON llms.id = m.id
) AS l ON l.m = r.m
"""


@dataclass(frozen=True)
class AnalyticsData:
    """What the bench's queries name, and how long making the data took."""

    url: str
    owner_id: uuid.UUID
    workspace_id: uuid.UUID
    rows: int
    timings: dict[str, float]


async def _dimensions(conn: asyncpg.Connection) -> tuple[uuid.UUID, list, list, list]:
    have = await conn.fetchval("SELECT count(*) FROM llms")
    if have < MODELS:
        await conn.execute(EXTRA_MODELS, MODELS - have)
    models = await conn.fetch("SELECT id FROM llms ORDER BY provider, model_id LIMIT $1", MODELS)
    users = [uuid.uuid4() for _ in range(USERS)]
    projects = [uuid.uuid4() for _ in range(PROJECTS)]
    workspace = uuid.uuid4()
    await conn.execute(USER_ROWS, users)
    await conn.execute(WORKSPACE, workspace, users[0])
    await conn.execute(MEMBERS, workspace, users[0], users)
    await conn.execute(PROJECT_ROWS, workspace, users[0], projects)
    return workspace, users, projects, [row["id"] for row in models]


async def _usage(conn: asyncpg.Connection, dims: tuple, rows: int) -> None:
    """The usage rows, a million per statement, with the foreign-key triggers off (the
    rows name only the rows made above)."""
    workspace, users, projects, models = dims
    await conn.execute("SET session_replication_role = replica")
    for first in range(0, rows, CHUNK):
        count = min(CHUNK, rows - first)
        await conn.execute(
            USAGE, workspace, users, projects, models, START, END, first, count, rows
        )
        print(f"  usage rows: {first + count:,} of {rows:,}", flush=True)
    await conn.execute("RESET session_replication_role")


async def fill(url: str, rows: int) -> AnalyticsData:
    """Insert the users, workspace, projects, models and usage rows, then rebuild the
    rollups; the time of each step."""
    timings: dict[str, float] = {}
    conn = await asyncpg.connect(plain_url(url), command_timeout=None)
    try:
        await conn.execute("SET work_mem = '256MB'")
        dims = await _dimensions(conn)
        started = time.perf_counter()
        await _usage(conn, dims, rows)
        await conn.execute("VACUUM ANALYZE usage_logs")
        timings["usage rows"] = time.perf_counter() - started
        rebuilds = {"usage_rollups": rebuild_sql()}
        rebuilds.update({table: coarse_rebuild_sql(table) for table in COARSE_ROLLUPS})
        for name, sql in rebuilds.items():
            started = time.perf_counter()
            await conn.execute(sql)
            timings[name] = time.perf_counter() - started
            print(f"  {name} rebuilt in {timings[name]:.1f} s", flush=True)
        await conn.execute(f"VACUUM ANALYZE {', '.join(rebuilds)}")
    finally:
        await conn.close()
    return AnalyticsData(url, dims[1][0], dims[0], rows, timings)


def prepare(server_url: str, name: str, rows: int) -> AnalyticsData:
    """Create, migrate, seed and fill the bench database."""
    from synapse_gql import migrations
    from tests.db import _seed

    url = create_database(server_url, name)
    migrations.upgrade(url)
    asyncio.run(_seed(url))
    return asyncio.run(fill(url, rows))
