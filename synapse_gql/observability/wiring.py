"""Observability added to an app: request ids, ``/metrics``, traces, the pool gauges."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from synapse_gql.config import Settings
from synapse_gql.observability import metrics, tracing
from synapse_gql.observability.middleware import RequestIdMiddleware
from synapse_gql.state import AppState


def observe(app: FastAPI, state: AppState) -> None:
    """Wire ``app`` (add it after the app's other middleware: it wraps them)."""
    settings = state.settings
    metrics.track_pool(state.db.engine.sync_engine.pool)
    app.add_middleware(RequestIdMiddleware)
    # Added last, so outermost: the request id middleware runs inside the request's span.
    tracing.instrument(app, state.db.engine, settings)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    app.add_api_route(
        "/metrics", metrics.metrics_endpoint(token), methods=["GET"], include_in_schema=False
    )


def stopped(state: AppState) -> None:
    """At shutdown: export buffered spans, drop the pool and this worker's live gauges."""
    tracing.flush()
    metrics.untrack_pool(state.db.engine.sync_engine.pool)
    metrics.process_exited(os.getpid())


def share_metrics_between(workers: int, settings: Settings) -> Path | None:
    """With several worker processes, have them share metric values through a directory
    (emptied now): ``SYNAPSE_METRICS_DIR``, else ``PROMETHEUS_MULTIPROC_DIR``, else
    ``metrics/`` in the data directory. Call before the workers start."""
    if workers <= 1:
        return None
    configured = os.environ.get(metrics.MULTIPROC_ENV)
    directory = settings.metrics_dir or (Path(configured) if configured else None)
    directory = directory or settings.data_dir / "metrics"
    metrics.prepare_multiprocess_dir(directory)
    return directory
