"""Reads side by side: this server, PostGraphile v5 and a floor, on one database.

```
python -m bench.reads [--rounds 5] [--quick] [--database-url URL] [--postgraphile-dir DIR]
                      [--server-source DIR] [--core N] [--seconds 1.0] [--min-requests 5]
                      [--connections 8]
```

It (re)creates the database of ``--database-url`` (default
``postgresql://postgres@127.0.0.1:5432/synapse_bench_reads``), migrates and seeds it, fills
it with ``generate_series`` (``bench.reads_data``), starts this server and, when it is
installed in ``--postgraphile-dir``, PostGraphile, each pinned to core ``--core``, checks
that both (and the floor) give the same answer to every read, then runs interleaved rounds.
Per round, read and target (order rotated each round): requests one at a time for at least
``--seconds`` (server CPU per request from ``/proc/<pid>/stat``, latency), then
``--connections`` in flight for ``--seconds`` (requests per second, CPU per request).
Figures only; ``bench/README.md`` says how to install PostGraphile and reads the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from sqlalchemy.engine import make_url

from bench.reads_data import FULL, QUICK, BenchData, plain_url, prepare
from bench.reads_floor import floor_answer
from bench.reads_measure import (
    Pace,
    Request,
    Sample,
    Target,
    floor_request,
    graphql_request,
    measure,
    one_connection,
)
from bench.reads_queries import Shape, canonical, row_count, shapes
from bench.reads_report import FLOOR, OURS, THEIRS, environment, report
from bench.reads_servers import Server, our_server, postgraphile, postgraphile_node
from synapse_gql.security.keys import Keyring

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/synapse_bench_reads"


PageOf = Callable[[str | None], Awaitable[dict[str, Any]]]


async def walk_to_page(send_page: PageOf, page: int, path: tuple[str, ...]) -> str | None:
    """The end cursor of page ``page - 1``, following each page's ``endCursor``."""
    after = None
    for _ in range(page - 1):
        connection = await send_page(after)
        for key in path:
            connection = connection[key]
        after = connection["pageInfo"]["endCursor"]
    return after


def _page_of(http: httpx.AsyncClient, server: Server, document: str, variables: dict) -> PageOf:
    async def page(after: str | None) -> dict[str, Any]:
        body = {"query": document, "variables": {**variables, "after": after}}
        return (await graphql_request(http, server, body)())["data"]

    return page


async def server_requests(
    http: httpx.AsyncClient, server: Server, reads: list[Shape]
) -> dict[str, Request]:
    """A request per read for ``server``, deep usage pages starting at their cursor."""
    ours = server.name == OURS
    requests = {}
    for shape in reads:
        document = shape.ours if ours else shape.theirs
        variables = dict(shape.ours_variables if ours else shape.theirs_variables)
        if shape.page > 1:
            page_of = _page_of(http, server, document, variables)
            variables["after"] = await walk_to_page(page_of, shape.page, ("workspace", "usageLogs"))
        body = {"query": document, "variables": variables}
        requests[shape.name] = graphql_request(http, server, body)
    return requests


async def floor_target(pool: asyncpg.Pool, data: BenchData, reads: list[Shape]) -> Target:
    target = Target(FLOOR, time.process_time)
    for shape in reads:
        target.requests[shape.name] = floor_request(pool, await floor_answer(shape, data, pool))
    return target


async def check_answers(targets: list[Target], reads: list[Shape]) -> None:
    """Print whether every target answers every read as this server does."""
    print("answers (ids and cursors aside), compared with this server's:")
    for shape in reads:
        answers = {}
        for target in targets:
            answer = await target.requests[shape.name]()
            answer = orjson.loads(answer) if isinstance(answer, bytes) else answer
            answers[target.name] = canonical(answer["data"])
        reference = answers[OURS]
        verdicts = [
            f"{name} {'same' if answer == reference else 'DIFFERENT'}"
            for name, answer in answers.items()
            if name != OURS
        ]
        print(f"  {shape.name:<14} {row_count(reference):>6} objects; {', '.join(verdicts)}")


async def warm_up(targets: list[Target], reads: list[Shape]) -> None:
    pace = Pace(seconds=0.5, min_requests=2, max_requests=200, connections=1)
    for target in targets:
        for shape in reads:
            await one_connection(target.requests[shape.name], target, pace)


async def idle_cpu(servers: list[Server], seconds: float = 2.0) -> dict[str, float]:
    """CPU-ms per second each server spends with no request (timers, heartbeats)."""
    before = {server.name: server.cpu_seconds() for server in servers}
    await asyncio.sleep(seconds)
    return {s.name: (s.cpu_seconds() - before[s.name]) * 1000 / seconds for s in servers}


async def rounds(
    targets: list[Target], reads: list[Shape], count: int, pace: Pace
) -> dict[str, dict[str, list[Sample]]]:
    """Samples by read and target; targets rotate their order every round."""
    samples: dict[str, dict[str, list[Sample]]] = {
        shape.name: {target.name: [] for target in targets} for shape in reads
    }
    for number in range(count):
        order = targets[number % len(targets) :] + targets[: number % len(targets)]
        for shape in reads:
            for target in order:
                samples[shape.name][target.name].append(await measure(target, shape.name, pace))
        print(f"  round {number + 1}/{count} done", flush=True)
    return samples


async def run(args: argparse.Namespace, url: str, data: BenchData, work_dir: Path) -> None:
    reads = shapes(data)
    secret = secrets.token_urlsafe(48)
    token, _ = Keyring(secret).issue_access_token(data.user_id, timedelta(hours=12))
    node = args.node
    pace = Pace(args.seconds, args.min_requests, 5000, args.connections)
    limits = httpx.Limits(
        max_connections=args.connections, max_keepalive_connections=args.connections
    )
    async with (
        httpx.AsyncClient(timeout=300, limits=limits) as http,
        asyncpg.create_pool(
            plain_url(url), min_size=args.connections, max_size=args.connections
        ) as pool,
        our_server(url, secret, token, work_dir, args.core, args.server_source) as ours,
    ):
        servers = [ours]
        targets = [Target(OURS, ours.cpu_seconds, await server_requests(http, ours, reads))]
        session = Session(args, data, reads, pool, pace, servers, targets)
        if node is None:
            print(f"PostGraphile (and node >= 22) not found in {args.postgraphile_dir}: skipped")
            await measure_all(session, None)
            return
        async with postgraphile(url, args.postgraphile_dir, node, args.core) as theirs:
            servers.append(theirs)
            requests = await server_requests(http, theirs, reads)
            targets.append(Target(THEIRS, theirs.cpu_seconds, requests))
            await measure_all(session, node)


@dataclass
class Session:
    """Everything a run measures with."""

    args: argparse.Namespace
    data: BenchData
    reads: list[Shape]
    pool: asyncpg.Pool
    pace: Pace
    servers: list[Server]
    targets: list[Target]


async def measure_all(session: Session, node: Path | None) -> None:
    """Check the answers, warm up, then the rounds and the report."""
    args, reads, targets = session.args, session.reads, session.targets
    targets.append(await floor_target(session.pool, session.data, reads))
    print(await environment(args, session.data, session.pool, node))
    await check_answers(targets, reads)
    await warm_up(targets, reads)
    idle = await idle_cpu(session.servers)
    print("idle CPU (ms per second): " + ", ".join(f"{k} {v:.2f}" for k, v in idle.items()))
    started = time.perf_counter()
    samples = await rounds(targets, reads, args.rounds, session.pace)
    print(report(samples, [t.name for t in targets], args.connections))
    print(f"(rounds measured in {time.perf_counter() - started:.0f} s)")


def pin_self_away_from(core: int | None) -> None:
    """Keep the bench's client off the servers' core when there is another one."""
    if core is None or not hasattr(os, "sched_setaffinity"):
        return
    others = os.sched_getaffinity(0) - {core}
    if others:
        os.sched_setaffinity(0, others)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=None, help="default 5 (--quick: 1)")
    parser.add_argument("--quick", action="store_true", help="small data, 1 round, short phases")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and re-created")
    parser.add_argument("--postgraphile-dir", type=Path, default=Path("/tmp/postgraphile-bench"))
    parser.add_argument(
        "--server-source",
        type=Path,
        default=None,
        help="run this server from this source tree (e.g. `git archive HEAD` extracted)",
    )
    parser.add_argument("--core", type=int, default=(os.cpu_count() or 1) - 1)
    parser.add_argument("--seconds", type=float, default=None, help="per phase (default 1.0)")
    parser.add_argument("--min-requests", type=int, default=None, help="per phase (default 5)")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    args.size = QUICK if args.quick else FULL
    if args.server_source is not None:
        args.server_source = args.server_source.resolve()
    args.rounds = args.rounds or (1 if args.quick else 5)
    args.seconds = args.seconds or (0.3 if args.quick else 1.0)
    args.min_requests = args.min_requests or (2 if args.quick else 5)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    parsed = make_url(args.database_url)
    server_url = parsed.set(database="postgres").render_as_string(hide_password=False)
    started = time.perf_counter()
    url, data = prepare(server_url, parsed.database or "synapse_bench_reads", args.size)
    print(f"data made in {time.perf_counter() - started:.1f} s", flush=True)
    args.node = postgraphile_node(args.postgraphile_dir)
    pin_self_away_from(args.core)
    with tempfile.TemporaryDirectory(prefix="synapse-bench-reads-") as work_dir:
        asyncio.run(run(args, url, data, Path(work_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
