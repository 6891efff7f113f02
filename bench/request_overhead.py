"""CPU per request of the one-row read, beside another build of this server and PostGraphile.

```
python -m bench.request_overhead [--rounds 5] [--requests 400] [--baseline-source DIR]
                                 [--postgraphile-dir DIR] [--core N] [--profile FILE]
                                 [--database-url URL]
```

The one-row read of ``bench.reads`` (``ConversationTitle``: one conversation's title by
global id), sent one request at a time over one kept-alive connection, is where the
per-request path shows: the HTTP layer, authentication, parsing and validation, the
extensions, rate limits, the metrics. This bench makes the small data of ``bench.reads``
(``--quick`` size) in a database of its own, starts this server (and, when given, a second
build of it from ``--baseline-source``, e.g. ``git archive HEAD`` extracted, and
PostGraphile v5 when installed), all pinned to one core, and runs interleaved rounds of
``--requests`` requests each, the targets' order rotated each round. Per target: server CPU
ms per request (``/proc/<pid>/stat``) and p50 latency, their medians over rounds, and the
ratio to the first target. ``--profile FILE`` records this server under one more block
with py-spy (``pip install py-spy``) into ``FILE`` (raw collapsed stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
from sqlalchemy.engine import make_url

from bench.reads import pin_self_away_from
from bench.reads_data import QUICK, BenchData, prepare
from bench.reads_queries import shapes
from bench.reads_servers import Server, our_server, postgraphile, postgraphile_node
from synapse_gql.security.keys import Keyring

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/synapse_bench_request_overhead"
READ = "ConversationTitle"


def _body(server: Server, data: BenchData, ours: bool) -> bytes:
    shape = next(s for s in shapes(data) if s.name == READ)
    if ours:
        return orjson.dumps({"query": shape.ours, "variables": shape.ours_variables})
    return orjson.dumps({"query": shape.theirs, "variables": shape.theirs_variables})


async def block(
    http: httpx.AsyncClient, server: Server, body: bytes, count: int
) -> tuple[float, float]:
    """CPU-ms per request and p50 latency (ms) of ``count`` requests one at a time."""
    headers = {**server.headers, "Content-Type": "application/json"}
    latencies = []
    cpu_before = server.cpu_seconds()
    for _ in range(count):
        sent = time.perf_counter()
        answer = await http.post(server.url, content=body, headers=headers)
        latencies.append((time.perf_counter() - sent) * 1000)
        if answer.status_code != 200 or b'"errors"' in answer.content:
            raise RuntimeError(f"{server.name}: {answer.status_code} {answer.text[:300]}")
    cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / count
    return cpu_ms, statistics.median(latencies)


async def profile(
    http: httpx.AsyncClient, server: Server, body: bytes, count: int, out: Path
) -> None:
    """py-spy records ``server`` while it answers ``count`` requests."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        print("py-spy not found: no profile")
        return
    recorder = await asyncio.create_subprocess_exec(
        spy, "record", "-r", "1000", "-p", str(server.process.pid), "-o", str(out),
        "--format", "raw", "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await asyncio.sleep(1.0)
    await block(http, server, body, count)
    recorder.send_signal(2)
    await recorder.wait()
    print(f"profile of {count} requests written to {out}")


@contextlib.asynccontextmanager
async def servers(
    args: argparse.Namespace, url: str, data: BenchData, work_dir: Path
) -> AsyncIterator[list[tuple[Server, bytes]]]:
    secret = secrets.token_urlsafe(48)
    token, _ = Keyring(secret).issue_access_token(data.user_id, timedelta(hours=12))
    async with contextlib.AsyncExitStack() as stack:
        found = []
        ours = await stack.enter_async_context(
            our_server(url, secret, token, work_dir / "ours", args.core)
        )
        found.append((ours, _body(ours, data, True)))
        if args.baseline_source is not None:
            base = await stack.enter_async_context(
                our_server(url, secret, token, work_dir / "base", args.core, args.baseline_source)
            )
            base.name = "baseline"
            found.append((base, _body(base, data, True)))
        node = postgraphile_node(args.postgraphile_dir)
        if node is not None:
            theirs = await stack.enter_async_context(
                postgraphile(url, args.postgraphile_dir, node, args.core)
            )
            found.append((theirs, _body(theirs, data, False)))
        yield found


async def run(args: argparse.Namespace, url: str, data: BenchData, work_dir: Path) -> None:
    (work_dir / "ours").mkdir()
    (work_dir / "base").mkdir()
    async with (
        httpx.AsyncClient(timeout=60) as http,
        servers(args, url, data, work_dir) as targets,
    ):
        for server, body in targets:  # warm up
            await block(http, server, body, max(50, args.requests // 4))
        cpu: dict[str, list[float]] = {server.name: [] for server, _ in targets}
        p50: dict[str, list[float]] = {server.name: [] for server, _ in targets}
        for number in range(args.rounds):
            shift = number % len(targets)
            for server, body in targets[shift:] + targets[:shift]:
                cpu_ms, latency = await block(http, server, body, args.requests)
                cpu[server.name].append(cpu_ms)
                p50[server.name].append(latency)
        print(report(cpu, p50, args))
        if args.profile is not None:
            ours, body = targets[0]
            await profile(http, ours, body, args.requests * 4, args.profile)


def report(
    cpu: dict[str, list[float]], p50: dict[str, list[float]], args: argparse.Namespace
) -> str:
    first = next(iter(cpu))
    lines = [
        f"{READ}: {args.rounds} rounds of {args.requests} requests, one at a time "
        f"(load average {os.getloadavg()[0]:.2f} at the end)",
        f"{'target':<14} {'CPU ms/req':>10} {'(min-max)':>13} {'p50 ms':>8}"
        f" {'CPU vs ' + first:>16}",
    ]
    for name, values in cpu.items():
        ratios = [value / base for value, base in zip(values, cpu[first], strict=True)]
        lines.append(
            f"{name:<14} {statistics.median(values):>10.3f} "
            f"{f'({min(values):.2f}-{max(values):.2f})':>13} "
            f"{statistics.median(p50[name]):>8.2f} {statistics.median(ratios):>15.2f}x"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400, help="per target per round")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and re-created")
    parser.add_argument("--baseline-source", type=Path, default=None)
    parser.add_argument("--postgraphile-dir", type=Path, default=Path("/tmp/postgraphile-bench"))
    parser.add_argument("--core", type=int, default=(os.cpu_count() or 1) - 1)
    parser.add_argument("--profile", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.baseline_source is not None:
        args.baseline_source = args.baseline_source.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    parsed = make_url(args.database_url)
    server_url = parsed.set(database="postgres").render_as_string(hide_password=False)
    url, data = prepare(server_url, parsed.database or "synapse_bench_request_overhead", QUICK)
    pin_self_away_from(args.core)
    with tempfile.TemporaryDirectory(prefix="synapse-bench-overhead-") as work_dir:
        asyncio.run(run(args, url, data, Path(work_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
