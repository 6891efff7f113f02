"""Prometheus metrics of the server, and the ``/metrics`` route.

Every process counts in its own memory, unless ``PROMETHEUS_MULTIPROC_DIR`` names a
directory when this module is first imported: then each process writes its values there and
a scrape of any worker adds up every worker's (``synapse-gql serve --workers N`` sets it,
see :func:`prepare_multiprocess_dir`). The database pool is read at scrape time from the
pools of the process that answers.
"""

from __future__ import annotations

import hmac
import os
import shutil
import weakref
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import QueuePool

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

GRAPHQL_REQUESTS = Counter(
    "graphql_requests",
    "GraphQL operations by name, type and outcome (ok, user_error, error, refused).",
    ["operation", "type", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "graphql_request_duration_seconds",
    "Time to run a GraphQL operation (a subscription: its whole life).",
    ["operation", "type"],
)
LLM_CALLS = Counter(
    "llm_calls", "Model calls (retries included) by outcome.", ["provider", "model", "status"]
)
LLM_TOKENS = Counter(
    "llm_tokens",
    "Metered tokens by kind (input, output, cache_read, cache_write).",
    ["provider", "model", "kind"],
)
LLM_COST = Counter("llm_cost_usd", "Metered cost in US dollars.", ["provider", "model"])
LLM_IN_FLIGHT = Gauge(
    "llm_generations_in_flight", "Model calls streaming now.", multiprocess_mode="livesum"
)
SUBSCRIPTIONS_OPEN = Gauge(
    "graphql_subscriptions_open", "GraphQL subscriptions running now.", multiprocess_mode="livesum"
)
WEBSOCKETS_OPEN = Gauge(
    "websocket_connections_open", "WebSocket connections open now.", multiprocess_mode="livesum"
)

# Pools are read at scrape time; an app that is gone drops out by itself.
_pools: weakref.WeakSet[QueuePool] = weakref.WeakSet()


class PoolCollector(Collector):
    """Connections checked out, pool size and overflow of this process's database pools."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pools = [pool for pool in list(_pools) if isinstance(pool, QueuePool)]
        figures = {
            "db_pool_checked_out": ("Connections in use.", QueuePool.checkedout),
            "db_pool_size": ("Configured pool size.", QueuePool.size),
            "db_pool_overflow": ("Connections open beyond the pool size.", _overflow),
        }
        for name, (doc, read) in figures.items():
            yield GaugeMetricFamily(name, doc, value=sum(read(pool) for pool in pools))


def _overflow(pool: QueuePool) -> int:
    # ``overflow()`` counts down from -size while connections are still being opened.
    return max(0, pool.overflow())


POOL_COLLECTOR = PoolCollector()
REGISTRY.register(POOL_COLLECTOR)


def track_pool(pool: object) -> None:
    """Report ``pool`` (a SQLAlchemy pool) in the ``db_pool_*`` gauges."""
    if isinstance(pool, QueuePool):
        _pools.add(pool)


def untrack_pool(pool: object) -> None:
    """Stop reporting ``pool`` (its database was closed)."""
    _pools.discard(pool)  # type: ignore[arg-type]


def multiprocess_enabled() -> bool:
    """True when values are shared through ``PROMETHEUS_MULTIPROC_DIR``."""
    return bool(os.environ.get(MULTIPROC_ENV))


def prepare_multiprocess_dir(directory: Path) -> None:
    """Start ``directory`` empty (values of an earlier run must not be added) and name it in
    ``PROMETHEUS_MULTIPROC_DIR`` for the worker processes started after this call."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, mode=0o700)
    os.environ[MULTIPROC_ENV] = str(directory)


def process_exited(pid: int) -> None:
    """Drop the live gauges of a worker that stopped (multi-process mode only)."""
    if multiprocess_enabled():
        multiprocess.mark_process_dead(pid)


def scrape() -> bytes:
    """The metrics in Prometheus's text format."""
    if not multiprocess_enabled():
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(POOL_COLLECTOR)
    return generate_latest(registry)


def metrics_endpoint(token: str | None) -> Callable[[Request], Awaitable[Response]]:
    """The ``/metrics`` handler; with ``token``, only ``Authorization: Bearer <token>``."""

    async def metrics(request: Request) -> Response:
        if token is not None and not _authorized(request.headers.get("authorization"), token):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(scrape(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def _authorized(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


def count_metered(record: Any, cost: Decimal, currency: str) -> None:
    """Tokens and cost of one metered call (``record``: a ``metering.CallRecord``); the
    cost counter holds US dollars, so a call priced in another currency adds no cost."""
    labels = (record.provider, record.model_id)
    kinds = {
        "input": record.input_tokens,
        "output": record.output_tokens,
        "cache_read": record.cache_read_tokens,
        "cache_write": record.cache_write_tokens,
    }
    for kind, tokens in kinds.items():
        if tokens:
            LLM_TOKENS.labels(*labels, kind).inc(tokens)
    if currency == "USD" and cost > 0:
        LLM_COST.labels(*labels).inc(float(cost))
