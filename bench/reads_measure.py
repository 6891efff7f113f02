"""Measuring one read on one target of ``bench.reads``: CPU per request and latency at one
connection, then requests per second at several connections.

A target is either a server process (its CPU from ``/proc``, requests over HTTP with
httpx) or the floor (asyncpg and orjson in this process, CPU from ``time.process_time``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import orjson

from bench.reads_floor import Answer
from bench.reads_servers import Server

Request = Callable[[], Awaitable[Any]]


@dataclass
class Target:
    """Something that answers a read: how to send one, and whose CPU it spends."""

    name: str
    cpu_seconds: Callable[[], float]
    requests: dict[str, Request] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """One target's figures for one read in one round."""

    cpu_ms: float  # per request, at one connection
    latencies_ms: list[float]
    per_second: float  # at ``connections`` connections
    cpu_ms_many: float  # per request, at ``connections`` connections


@dataclass(frozen=True)
class Pace:
    """How long each phase runs: at least ``min_requests`` and ``seconds``."""

    seconds: float
    min_requests: int
    max_requests: int
    connections: int


class GraphQLError(RuntimeError):
    """A server answered a read with errors or no data."""


def graphql_request(http: httpx.AsyncClient, server: Server, body: dict[str, Any]) -> Request:
    """A request of ``body`` to ``server`` that fails unless it has data and no errors."""
    content = orjson.dumps(body)
    headers = {**server.headers, "Content-Type": "application/json"}

    async def send() -> Any:
        answer = await http.post(server.url, content=content, headers=headers)
        payload = orjson.loads(answer.content)
        if answer.status_code != 200 or payload.get("errors") or not payload.get("data"):
            raise GraphQLError(f"{server.name}: {answer.status_code} {answer.text[:500]}")
        return payload

    return send


def floor_request(pool: asyncpg.Pool, answer: Answer) -> Request:
    """A floor read: the statement, the rows, the encoded answer (parsed back when read)."""

    async def send() -> bytes:
        return await answer(pool)

    return send


async def one_connection(request: Request, target: Target, pace: Pace) -> tuple[float, list[float]]:
    """CPU-ms per request and each request's latency (ms), one request at a time."""
    latencies: list[float] = []
    cpu_before = target.cpu_seconds()
    started = time.perf_counter()
    while len(latencies) < pace.max_requests and (
        len(latencies) < pace.min_requests or time.perf_counter() - started < pace.seconds
    ):
        sent = time.perf_counter()
        await request()
        latencies.append((time.perf_counter() - sent) * 1000)
    cpu_ms = (target.cpu_seconds() - cpu_before) * 1000 / len(latencies)
    return cpu_ms, latencies


async def many_connections(request: Request, target: Target, pace: Pace) -> tuple[float, float]:
    """Requests per second and CPU-ms per request with ``pace.connections`` requests in
    flight until the time is up."""
    cpu_before = target.cpu_seconds()
    deadline = time.perf_counter() + pace.seconds
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await request()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(pace.connections)))
    elapsed = time.perf_counter() - started
    return done / elapsed, (target.cpu_seconds() - cpu_before) * 1000 / done


async def measure(target: Target, read: str, pace: Pace) -> Sample:
    """One round of ``read`` on ``target``."""
    request = target.requests[read]
    cpu_ms, latencies = await one_connection(request, target, pace)
    per_second, cpu_ms_many = await many_connections(request, target, pace)
    return Sample(cpu_ms, latencies, per_second, cpu_ms_many)
