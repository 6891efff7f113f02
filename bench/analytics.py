"""Usage summaries at ten million usage rows: ``usageSummary`` over HTTP beside the plain
``GROUP BY`` over ``usage_logs`` for the same figures.

```
python -m bench.analytics [--rows 10000000] [--database-url URL] [--reuse] [--requests 40]
                          [--plain-runs 5] [--core N]
```

It (re)creates the database of ``--database-url`` (default
``postgresql://postgres@127.0.0.1:5432/synapse_bench_analytics``), migrates and seeds it,
fills it with ``generate_series`` (``bench.analytics_data``: ``--rows`` usage rows over 90
days, 20 models, 50 users, 10 projects) and rebuilds the rollups from the usage rows;
``--reuse`` keeps a database a previous run filled. Then it starts this server (a real
process, pinned to core ``--core``) and, per query: checks that the server's buckets and
totals equal the plain ``GROUP BY`` (sums exact, percentiles within the histograms' 5 %),
sends ``--requests`` requests one at a time (latency p50/p95 at the client over loopback,
server CPU per request from ``/proc/<pid>/stat``) and runs the plain ``GROUP BY`` (with
the same percentiles, ``percentile_disc``) ``--plain-runs`` times over asyncpg.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.analytics_data import START, AnalyticsData, prepare
from bench.reads import pin_self_away_from
from bench.reads_data import plain_url
from bench.reads_servers import Server, our_server, process_cpu_seconds
from synapse_gql.analytics import histogram
from synapse_gql.gql.relay import from_global_id, to_global_id
from synapse_gql.security.keys import Keyring

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/synapse_bench_analytics"
MEASURES = (
    "calls errors cancelled inputTokens outputTokens cachedTokens cost"
    " latencyP50 latencyP95 ttftP50 ttftP95"
)
SPEND = "calls cost"
DOCUMENT = """
query BenchSummary($workspaceId: ID!, $filter: UsageFilter, $granularity: UsageGranularity!,
                   $groupBy: [UsageGroupBy!]) {{
  usageSummary(workspaceId: $workspaceId, filter: $filter, granularity: $granularity,
               groupBy: $groupBy) {{
    __typename
    ... on UsageSummary {{
      buckets {{ start llmId userId {measures} }}
      totals {{ {measures} }}
    }}
  }}
}}
"""
GROUP_COLUMNS = {"MODEL": ("llm_id", "llmId", "LLM"), "USER": ("user_id", "userId", "User")}
PLAIN = """
SELECT date_trunc('{unit}', created_at, 'UTC') AS bucket, {column} AS key,
       GROUPING(date_trunc('{unit}', created_at, 'UTC')) AS is_total,
       count(*) AS calls, count(*) FILTER (WHERE status = 'error') AS errors,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cache_read_tokens + cache_write_tokens) AS cached_tokens, sum(cost) AS cost,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY time_to_first_token_ms) AS ttft_p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY time_to_first_token_ms) AS ttft_p95
FROM usage_logs
WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3
GROUP BY GROUPING SETS ((1, 2), ())
"""
SUMS = {
    "calls": "calls",
    "errors": "errors",
    "cancelled": "cancelled",
    "inputTokens": "input_tokens",
    "outputTokens": "output_tokens",
    "cachedTokens": "cached_tokens",
}
PERCENTILES = {
    "latencyP50": "latency_p50",
    "latencyP95": "latency_p95",
    "ttftP50": "ttft_p50",
    "ttftP95": "ttft_p95",
}


@dataclass(frozen=True)
class Query:
    """One summary the bench asks for, and how often."""

    name: str
    granularity: str
    group_by: str | None
    start: datetime
    end: datetime
    quick: bool  # served by the coarse rollups: measured ``--requests`` times
    measures: str = MEASURES

    def variables(self, workspace_id: Any) -> dict[str, Any]:
        return {
            "workspaceId": to_global_id("Workspace", workspace_id),
            "filter": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "granularity": self.granularity,
            "groupBy": [self.group_by] if self.group_by else [],
        }

    def document(self) -> str:
        return DOCUMENT.format(measures=self.measures)

    def plain_sql(self) -> str:
        column = GROUP_COLUMNS[self.group_by][0] if self.group_by else "NULL::uuid"
        return PLAIN.format(unit=self.granularity.lower(), column=column)


MONTH = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
YEAR = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
QUERIES = [
    Query("a month by day x model", "DAY", "MODEL", *MONTH, quick=True),
    Query("the same, calls and cost only", "DAY", "MODEL", *MONTH, quick=True, measures=SPEND),
    Query("a year by month", "MONTH", None, *YEAR, quick=True),
    Query("a year by month x model", "MONTH", "MODEL", *YEAR, quick=True),
    Query("a month by day x user (hourly)", "DAY", "USER", *MONTH, quick=False),
]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _close(got: int | None, exact: int | None) -> bool:
    if exact is None or got is None:
        return got == exact
    return abs(got - exact) <= histogram.RELATIVE_ERROR * exact


def differences(query: Query, answer: dict[str, Any], rows: list[asyncpg.Record]) -> list[str]:
    """What differs between the server's answer and the plain GROUP BY's rows."""
    expected = {}
    for row in rows:
        key = None if row["is_total"] else (row["bucket"], row["key"])
        expected[key] = row
    got: dict[Any, dict[str, Any]] = {None: answer["totals"]}
    for bucket in answer["buckets"]:
        key_field = GROUP_COLUMNS[query.group_by][1] if query.group_by else None
        key = bucket[key_field] if key_field else None
        start = datetime.fromisoformat(bucket["start"])
        got[(_bucket_start(query, start), _db_id(key))] = bucket
    problems = []
    if got.keys() != expected.keys():
        problems.append(f"{len(got)} buckets against {len(expected)}")
    for key in got.keys() & expected.keys():
        mine, theirs = got[key], expected[key]
        sums = [(n, c) for n, c in SUMS.items() if n in mine]
        wrong = [name for name, column in sums if mine[name] != theirs[column]]
        wrong += ["cost"] if Decimal(mine["cost"]) != theirs["cost"] else []
        percentiles = [(n, c) for n, c in PERCENTILES.items() if n in mine]
        wrong += [name for name, column in percentiles if not _close(mine[name], theirs[column])]
        if wrong:
            problems.append(f"{key}: {', '.join(wrong)}")
    return problems


def _bucket_start(query: Query, start: datetime) -> datetime:
    """The calendar bucket of a (range-clipped) bucket start."""
    if query.granularity == "MONTH":
        return start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.replace(hour=0, minute=0, second=0, microsecond=0)


def _db_id(global_id: str | None) -> Any:
    return None if global_id is None else from_global_id(global_id)[1]


@dataclass
class Figures:
    """One query's measurements."""

    buckets: int
    server_ms: list[float]
    server_cpu_ms: float
    plain_ms: list[float]
    problems: list[str]


async def ask(http: httpx.AsyncClient, server: Server, body: dict[str, Any]) -> dict[str, Any]:
    """One usageSummary over HTTP; its UsageSummary (fails on an error)."""
    answer = await http.post(server.url, json=body, headers=server.headers)
    payload = answer.json()
    summary = (payload.get("data") or {}).get("usageSummary") or {}
    if payload.get("errors") or summary.get("__typename") != "UsageSummary":
        raise RuntimeError(f"usageSummary failed: {answer.text[:500]}")
    return summary


async def measure(
    query: Query,
    data: AnalyticsData,
    http: httpx.AsyncClient,
    server: Server,
    conn: asyncpg.Connection,
    args: argparse.Namespace,
) -> Figures:
    """Check the answer against the plain GROUP BY, then time both."""
    body = {"query": query.document(), "variables": query.variables(data.workspace_id)}
    answer = await ask(http, server, body)
    sql = query.plain_sql()
    plain_ms = []
    rows: list[asyncpg.Record] = []
    for _ in range(args.plain_runs):
        started = time.perf_counter()
        rows = await conn.fetch(sql, data.workspace_id, query.start, query.end)
        plain_ms.append((time.perf_counter() - started) * 1000)
    problems = differences(query, answer, rows)
    count = args.requests if query.quick else args.plain_runs
    for _ in range(min(3, count)):
        await ask(http, server, body)
    server_ms = []
    cpu_before = process_cpu_seconds(server.process.pid)
    for _ in range(count):
        started = time.perf_counter()
        await ask(http, server, body)
        server_ms.append((time.perf_counter() - started) * 1000)
    cpu_ms = (process_cpu_seconds(server.process.pid) - cpu_before) * 1000 / count
    return Figures(len(answer["buckets"]), server_ms, cpu_ms, plain_ms, problems)


async def sizes(conn: asyncpg.Connection) -> str:
    """Rows and on-disk size (with indexes) of the usage table and both rollups."""
    lines = []
    for table in ("usage_logs", "usage_rollups", "usage_rollups_daily", "usage_rollups_monthly"):
        count = await conn.fetchval(f"SELECT count(*) FROM {table}")
        size = await conn.fetchval(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))")
        lines.append(f"  {table:<22} {count:>11,} rows {size:>9}")
    return "\n".join(lines)


def report(results: dict[str, Figures]) -> str:
    """The table: server p50/p95 and CPU per request beside the plain GROUP BY."""
    header = (
        f"{'query':<32} {'buckets':>7} {'server p50':>10} {'p95':>8} {'CPU/req':>8}"
        f" {'GROUP BY p50':>12} {'p95':>8}  figures"
    )
    lines = [header, "-" * len(header)]
    for name, f in results.items():
        verdict = "equal" if not f.problems else f"{len(f.problems)} DIFFERENT"
        lines.append(
            f"{name:<32} {f.buckets:>7} {statistics.median(f.server_ms):>8.1f}ms"
            f" {percentile(f.server_ms, 0.95):>6.1f}ms {f.server_cpu_ms:>6.1f}ms"
            f" {statistics.median(f.plain_ms):>10.0f}ms {percentile(f.plain_ms, 0.95):>6.0f}ms"
            f"  {verdict} (n={len(f.server_ms)}/{len(f.plain_ms)})"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace, data: AnalyticsData, work_dir: Path) -> None:
    secret = secrets.token_urlsafe(48)
    token, _ = Keyring(secret).issue_access_token(data.owner_id, timedelta(hours=12))
    conn = await asyncpg.connect(plain_url(data.url), command_timeout=None)
    try:
        print(await sizes(conn))
        results = {}
        async with (
            httpx.AsyncClient(timeout=600) as http,
            our_server(data.url, secret, token, work_dir, args.core) as server,
        ):
            for query in QUERIES:
                results[query.name] = await measure(query, data, http, server, conn, args)
                print(f"  {query.name}: measured", flush=True)
        print(report(results))
        for name, figures in results.items():
            for problem in figures.problems[:5]:
                print(f"  {name}: {problem}")
    finally:
        await conn.close()


async def filled(url: str) -> AnalyticsData | None:
    """The data of a database a previous run filled, None when there is none."""
    try:
        conn = await asyncpg.connect(plain_url(url))
    except (asyncpg.InvalidCatalogNameError, OSError):
        return None
    try:
        row = await conn.fetchrow(
            "SELECT w.id, w.owner_id, (SELECT count(*) FROM usage_logs) AS rows"
            " FROM workspaces AS w WHERE w.slug = 'bench-analytics'"
        )
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()
    if row is None:
        return None
    return AnalyticsData(url, row["owner_id"], row["id"], row["rows"], {})


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and re-created")
    parser.add_argument("--reuse", action="store_true", help="keep the data of a previous run")
    parser.add_argument("--requests", type=int, default=40, help="per daily-rollup query")
    parser.add_argument("--plain-runs", type=int, default=5, help="plain GROUP BY runs")
    parser.add_argument("--core", type=int, default=None, help="pin the server to this core")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    parsed = make_url(args.database_url)
    data = asyncio.run(filled(plain_url(args.database_url))) if args.reuse else None
    if data is None:
        server_url = parsed.set(database="postgres").render_as_string(hide_password=False)
        started = time.perf_counter()
        data = prepare(server_url, parsed.database or "synapse_bench_analytics", args.rows)
        print(f"data made in {time.perf_counter() - started:.0f} s: {data.timings}", flush=True)
    print(f"{data.rows:,} usage rows from {START:%Y-%m-%d}, 90 days")
    pin_self_away_from(args.core)
    with tempfile.TemporaryDirectory(prefix="synapse-bench-analytics-") as work_dir:
        asyncio.run(run(args, data, Path(work_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
