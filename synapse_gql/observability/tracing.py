"""OpenTelemetry traces, on when an OTLP endpoint is configured.

``OTEL_EXPORTER_OTLP_ENDPOINT`` (the standard variable, read by the exporter itself) or
``SYNAPSE_OTLP_ENDPOINT`` turns it on: HTTP requests (``/graphql`` and the other routes),
SQL statements and model calls become spans, exported over OTLP/HTTP in batches. A model
call runs in the task of its request or in a task that request started, so its span is a
child of the request's span even when the request has answered before the call ends.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql import __version__
from synapse_gql.config import Settings

SCOPE = "synapse_gql"
STANDARD_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"

_provider: TracerProvider | None = None


def use_provider(provider: TracerProvider | None) -> TracerProvider | None:
    """Trace into ``provider`` from now on (None: tracing off); returns the previous one.
    Apps built afterwards instrument their routes and database with it."""
    global _provider
    previous, _provider = _provider, provider
    return previous


def otlp_endpoint(settings: Settings) -> str | None:
    """The configured OTLP/HTTP endpoint, if any."""
    return settings.otlp_endpoint or os.environ.get(STANDARD_ENDPOINT) or None


def configure(settings: Settings) -> TracerProvider | None:
    """The process's tracer provider: the one in use, else an OTLP exporter's when an
    endpoint is configured (made once per process), else None."""
    if _provider is not None:
        return _provider
    endpoint = otlp_endpoint(settings)
    if endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create({"service.name": "synapse-gql", "service.version": __version__})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=_traces(endpoint))))
    trace.set_tracer_provider(provider)
    use_provider(provider)
    return provider


def _traces(endpoint: str) -> str:
    # The base endpoint names the collector; its traces live under /v1/traces.
    base = endpoint.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def tracer() -> trace.Tracer:
    """The tracer of the server's own spans (a no-op one while tracing is off)."""
    if _provider is None:
        return trace.NoOpTracer()
    return _provider.get_tracer(SCOPE, __version__)


def instrument(app: FastAPI, engine: AsyncEngine, settings: Settings) -> bool:
    """Trace ``app``'s requests and ``engine``'s statements when tracing is on."""
    provider = configure(settings)
    if provider is None:
        return False
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    # One span per request; not one per WebSocket frame or body chunk.
    app.add_middleware(
        OpenTelemetryMiddleware,
        tracer_provider=provider,
        exclude_spans=["receive", "send"],
    )
    trace_statements(engine, provider)
    return True


def trace_statements(engine: AsyncEngine, provider: TracerProvider) -> None:
    """A span for each statement ``engine`` runs.

    The instrumentor's ``instrument()`` works once per process and patches
    ``create_engine`` everywhere; its engine tracer alone instruments just this engine.
    """
    from opentelemetry.instrumentation.sqlalchemy import __version__ as version
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    usage = NoOpMeterProvider().get_meter(SCOPE).create_up_down_counter("db.client.connections")
    tracer = provider.get_tracer("opentelemetry.instrumentation.sqlalchemy", version)
    EngineTracer(tracer, engine.sync_engine, usage)


def flush() -> None:
    """Export what is still buffered (at process exit)."""
    if _provider is not None:
        _provider.force_flush()
