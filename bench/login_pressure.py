"""``/health`` latency while wrong-password logins hash passwords, vs idle.

```
python -m bench.login_pressure [--samples 200] [--logins 16] [--rounds 10] [--timeout 180]
```

A real ``synapse-gql serve`` process (production argon2 parameters: argon2-cffi's
defaults, as in any deployment; the login limits and anonymous query points raised so
that every wrong password is hashed instead of refused early) on a free loopback port,
on the database of ``SYNAPSE_BENCH_DATABASE_URL`` / ``DATABASE_URL`` or a temporary
embedded PostgreSQL (see ``bench.stream_latency.bench_database``). One user is
registered, then:

1. idle: ``--samples`` sequential ``GET /health``;
2. pressure: ``--logins`` clients each send ``--rounds`` wrong-password ``login`` mutations
   back to back, while sequential ``GET /health`` are timed until the last login answered.

It prints the median and p95 of each, and how many logins the server answered per second.
Bounded by ``--timeout`` seconds in all; the server process is stopped on the way out.
Loopback only; figures only, no assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.processes import stop_process
from bench.stream_latency import bench_database
from tests.gql_client import operation_documents
from tests.live import free_port

PASSWORD = "correct horse battery staple"
START_SECONDS = 90.0


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def summary(name: str, values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{name:<9} n={len(ms):<4} median={statistics.median(ms):8.2f} ms"
        f"  p95={percentile(ms, 0.95):8.2f} ms  max={max(ms):8.2f} ms"
    )


async def start_server(database_url: str, data_dir: Path, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNAPSE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        SYNAPSE_DATABASE_URL=database_url,
        SYNAPSE_SECRET_KEY=secrets.token_urlsafe(48),
        SYNAPSE_DATA_DIR=str(data_dir),
        SYNAPSE_LOG_LEVEL="warning",
        # Every wrong password is hashed: no lock, no backoff, no per-address refusal.
        SYNAPSE_LOGIN_MAX_FAILURES="1000000",
        SYNAPSE_LOGIN_MAX_FAILURES_PER_ADDRESS="1000000",
        SYNAPSE_LOGIN_BACKOFF_SECONDS="0",
        # Nor refused by the anonymous per-minute query points.
        SYNAPSE_RATE_LIMIT_ANONYMOUS_POINTS="1000000000",
    )
    command = [sys.executable, "-m", "synapse_gql.cli", "serve", "--no-migrate"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = (data_dir / "server.log").open("wb")
    return await asyncio.create_subprocess_exec(
        *command, env=env, cwd=str(data_dir), stdout=log, stderr=asyncio.subprocess.STDOUT
    )


async def wait_healthy(http: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(START_SECONDS):
        while process.returncode is None:
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server exited with {process.returncode}")


async def health_samples(http: httpx.AsyncClient, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = await http.get("/health")
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times


async def health_until(http: httpx.AsyncClient, done: asyncio.Future[list[int]]) -> list[float]:
    times: list[float] = []
    while not done.done():
        times += await health_samples(http, 1)
    return times


async def wrong_logins(http: httpx.AsyncClient, email: str, rounds: int) -> int:
    body = {
        "query": operation_documents()["Login"],
        "variables": {"input": {"email": email, "password": "not the password"}},
    }
    answered = 0
    for _ in range(rounds):
        response = await http.post("/graphql", json=body)
        data = response.json().get("data") or {}
        kind = (data.get("login") or {}).get("__typename")
        assert kind is not None, response.text
        assert kind != "AuthPayload", kind
        answered += 1
    return answered


async def register(http: httpx.AsyncClient) -> str:
    email = f"bench-{secrets.token_hex(4)}@example.com"
    given = {"input": {"email": email, "name": "Bench", "password": PASSWORD}}
    body = {"query": operation_documents()["Register"], "variables": given}
    payload = (await http.post("/graphql", json=body)).json()["data"]["register"]
    assert payload["__typename"] == "AuthPayload", payload
    return email


async def measure(args: argparse.Namespace, database_url: str, data_dir: Path) -> None:
    port = free_port()
    process = await start_server(database_url, data_dir, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            await wait_healthy(http, process)
            email = await register(http)
            await health_samples(http, 10)  # warm-up
            idle = await health_samples(http, args.samples)
            started = time.perf_counter()
            logins = asyncio.gather(
                *(wrong_logins(http, email, args.rounds) for _ in range(args.logins))
            )
            loaded = await health_until(http, logins)
            answered = sum(await logins)
            elapsed = time.perf_counter() - started
        print(summary("idle", idle))
        print(summary("pressure", loaded))
        print(f"logins answered: {answered} in {elapsed:.1f} s ({answered / elapsed:.1f}/s)")
    finally:
        await stop_process(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--logins", type=int, default=16, help="parallel wrong-password clients")
    parser.add_argument("--rounds", type=int, default=10, help="logins per client")
    parser.add_argument("--timeout", type=float, default=180.0, help="bound of the whole run")
    args = parser.parse_args(argv)
    with bench_database() as (url, where), tempfile.TemporaryDirectory() as data:
        print(f"database: {where}; {args.logins} parallel wrong-password logins")

        async def bounded() -> None:
            async with asyncio.timeout(args.timeout):
                await measure(args, url, Path(data))

        asyncio.run(bounded())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
