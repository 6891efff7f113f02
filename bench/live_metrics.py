"""Live workspace metrics: many subscribers of one workspace while calls are metered.

    python -m bench.live_metrics [--subscribers 1000] [--per-socket 100] [--calls 40]
                                 [--rate 5] [--window MINUTE] [--redis URL]

One real server process (``python -m synapse_gql.serving``, see
``bench/stream_fanout.py``), in process memory or on Redis (``--redis``). ``--subscribers``
subscriptions to ``workspaceMetrics`` of one workspace (graphql-transport-ws,
``--per-socket`` per socket), then ``--calls`` one-shot calls of the mock model at
``--rate`` a second, each metered and announced on the workspace's metrics channel.

Printed: the updates each subscriber received; the delivery delay of every update to every
subscriber after its snapshot (from ``computedAt``, the database clock when the figures
were computed, to the frame's arrival here; same machine), p50 / p99 / max; the spread
of one update's arrival across the subscribers; and the integrity check: every
subscriber's sequence numbers consecutive from its snapshot on (nothing lost, nothing
duplicated), every one ending on the same last update, whose ``calls`` is the number of
calls made.

The database: ``SYNAPSE_BENCH_DATABASE_URL`` or ``DATABASE_URL`` (migrated and seeded), else
an embedded PostgreSQL in a temporary directory. See ``bench/README.md`` for the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.stream_fanout import Api, percentile, server_environment, server_process, spread

SOCKET_PROTOCOL = "graphql-transport-ws"
QUIET_SECONDS = 3.0  # after the last call: every update has arrived
POOL_SIZE = 20


@dataclass
class Watcher:
    """One subscription: (arrived, sequence, calls, computedAt) per update."""

    updates: list[tuple[float, int, int, float]] = field(default_factory=list)
    error: str | None = None


class MetricsSocket:
    """One connection carrying many ``workspaceMetrics`` subscriptions."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.watchers: dict[str, Watcher] = {}
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, token: str) -> MetricsSocket:
        import websockets
        from websockets.typing import Subprotocol

        ws = await websockets.connect(
            url,
            subprotocols=[Subprotocol(SOCKET_PROTOCOL)],
            max_size=None,
            compression=None,
            max_queue=None,
        )
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
        await ws.send(json.dumps(init))
        ack = json.loads(await ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        return cls(ws)

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.ws:
                arrived = time.time()
                message = json.loads(raw)
                watcher = self.watchers.get(message.get("id"))
                if watcher is not None:
                    _receive(watcher, arrived, message)
                elif message.get("type") == "ping":
                    await self.ws.send('{"type":"pong"}')

    async def subscribe(self, op_id: str, payload: str) -> Watcher:
        watcher = self.watchers[op_id] = Watcher()
        await self.ws.send(f'{{"id":"{op_id}","type":"subscribe","payload":{payload}}}')
        return watcher

    async def close(self) -> None:
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
        with contextlib.suppress(Exception):
            await self.ws.close()


def _receive(watcher: Watcher, arrived: float, message: dict[str, Any]) -> None:
    payload = message.get("payload") or {}
    event = (payload.get("data") or {}).get("workspaceMetrics")
    if message.get("type") != "next" or not event or event["__typename"] != "WorkspaceMetrics":
        watcher.error = watcher.error or f"{message.get('type')}: {payload}"
        return
    computed = datetime.fromisoformat(event["computedAt"]).timestamp()
    watcher.updates.append((arrived, event["sequence"], event["calls"], computed))


def subscribe_payload(workspace_id: str, window: str) -> str:
    from tests.gql_client import operation_documents

    return json.dumps(
        {
            "query": operation_documents()["LiveWorkspaceMetrics"],
            "operationName": "LiveWorkspaceMetrics",
            "variables": {"workspaceId": workspace_id, "window": window},
        }
    )


async def open_subscribers(
    url: str, token: str, payload: str, count: int, per_socket: int
) -> tuple[list[MetricsSocket], list[Watcher]]:
    sockets = [
        await MetricsSocket.open(url, token) for _ in range(max(1, math.ceil(count / per_socket)))
    ]
    watchers = [
        await sockets[index // per_socket].subscribe(str(index), payload) for index in range(count)
    ]
    return sockets, watchers


async def until(condition: Any, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the subscribers did not all receive their snapshot")
        await asyncio.sleep(0.05)


async def make_calls(api: Api, workspace_id: str, model: str, count: int, rate: float) -> None:
    """``count`` one-shot calls started at ``rate`` a second."""

    async def one(index: int) -> None:
        given = {"workspaceId": workspace_id, "model": model, "prompt": f"metric {index}"}
        result = (await api.op("Generate", input={**given, "maxTokens": 8}))["generate"]
        if result["__typename"] != "Generation":
            raise RuntimeError(f"generate: {result}")

    calls = []
    for index in range(count):
        calls.append(asyncio.create_task(one(index)))
        await asyncio.sleep(1 / rate)
    await asyncio.gather(*calls)


def integrity(watchers: list[Watcher], calls: int) -> list[str]:
    gaps = duplicates = errors = 0
    last = {w.updates[-1][1] for w in watchers if w.updates}
    final_calls = {w.updates[-1][2] for w in watchers if w.updates}
    for watcher in watchers:
        sequences = [update[1] for update in watcher.updates]
        unique = sorted(set(sequences))
        duplicates += len(sequences) - len(unique)
        gaps += bool(unique) and unique != list(range(unique[0], unique[-1] + 1))
        errors += watcher.error is not None
    ok = not gaps and not duplicates and not errors and len(last) == 1 and final_calls == {calls}
    return [
        f"  subscribers with a gap          {gaps}",
        f"  duplicated updates              {duplicates}",
        f"  subscribers with an error       {errors}",
        f"  last sequence (all subscribers) {sorted(last)}",
        f"  calls in the last update        {sorted(final_calls)} (made {calls})",
        f"  integrity                       {'OK' if ok else 'FAILED'}",
    ]


def delivery(watchers: list[Watcher]) -> list[str]:
    # A subscriber's first frame is the snapshot, computed before it joined: left out.
    after = [w.updates[1:] for w in watchers]
    delays = [arrived - computed for updates in after for arrived, _, _, computed in updates]
    by_sequence: dict[int, list[float]] = {}
    for updates in after:
        for arrived, sequence, _, _ in updates:
            by_sequence.setdefault(sequence, []).append(arrived)
    spreads = [max(times) - min(times) for times in by_sequence.values() if len(times) > 1]
    counts = [len(w.updates) for w in watchers]
    return [
        f"  updates per subscriber          min {min(counts)} / max {max(counts)}"
        f" (sequences {min(by_sequence)}..{max(by_sequence)})",
        f"  delivery delay ms p50/p99/max   {spread(delays)}",
        f"  first-to-last spread ms p50/p99/max {spread(spreads)}",
        f"  delivery p99 ms                 {percentile(delays, 0.99) * 1000:.1f}",
    ]


async def run(args: argparse.Namespace, database_url: str) -> None:
    import httpx

    with tempfile.TemporaryDirectory(prefix="synapse-metrics-") as data_dir:
        env = server_environment(database_url, args.redis, Path(data_dir), 0, POOL_SIZE)
        async with (
            server_process(env, Path(data_dir)) as server,
            httpx.AsyncClient(base_url=server.base_url, timeout=300) as http,
        ):
            api = Api(http, database_url)
            workspace_id = await api.sign_up()
            llms = await api.op("Llms", provider="mock")
            model = llms["llms"]["edges"][0]["node"]["id"]
            payload = subscribe_payload(workspace_id, args.window)
            started = time.monotonic()
            sockets, watchers = await open_subscribers(
                server.ws_url, api.token, payload, args.subscribers, args.per_socket
            )
            try:
                await until(lambda: all(w.updates or w.error for w in watchers))
                print(f"  subscribed in                   {time.monotonic() - started:.1f} s")
                cpu = server.cpu_seconds()
                await make_calls(api, workspace_id, model, args.calls, args.rate)
                await asyncio.sleep(QUIET_SECONDS)
                print(f"  server cpu during the calls     {server.cpu_seconds() - cpu:.2f} s")
            finally:
                await asyncio.gather(*(socket.close() for socket in sockets))
    for line in [*delivery(watchers), *integrity(watchers, args.calls)]:
        print(line)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live_metrics", description="Live metrics to many subscribers."
    )
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--per-socket", type=int, default=100)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--rate", type=float, default=5.0, help="calls a second (5)")
    parser.add_argument("--window", choices=("MINUTE", "HOUR"), default="MINUTE")
    parser.add_argument("--redis", default=None, help="realtime over this Redis (default: none)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from bench.stream_latency import bench_database

    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runner = asyncio.run
    with contextlib.suppress(ImportError):
        import uvloop

        runner = uvloop.run
    with bench_database() as (url, database):
        print(
            f"live_metrics: {args.subscribers} subscribers ({args.per_socket}/socket),"
            f" {args.calls} calls at {args.rate}/s, window {args.window},"
            f" realtime {args.redis or 'in process'}, {database},"
            f" python {platform.python_version()}, {os.cpu_count()} cpus,"
            f" load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        runner(run(args, url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
