"""The ASGI application: GraphQL, health and readiness."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from synapse_gql import __version__
from synapse_gql.accounts.guard import LoginGuard
from synapse_gql.alerts import bind_alerts
from synapse_gql.body_limit import BodySizeLimit
from synapse_gql.chat.manager import GenerationManager
from synapse_gql.config import Settings
from synapse_gql.datasets.routes import router as dataset_routes
from synapse_gql.db import Database
from synapse_gql.generation.providers import build_llm_providers
from synapse_gql.graphiql.page import install as install_graphiql
from synapse_gql.graphql_route import SynapseGraphQLRouter, get_context
from synapse_gql.invoices.routes import router as invoice_routes
from synapse_gql.llm import close_providers
from synapse_gql.observability.logging import configure_logging
from synapse_gql.observability.wiring import observe, stopped
from synapse_gql.operations import build_operations
from synapse_gql.realtime import create_broadcaster, create_stream_log
from synapse_gql.realtime.journal import journal_dir
from synapse_gql.schema import build_schema
from synapse_gql.security import passwords
from synapse_gql.security.keys import Keyring
from synapse_gql.security.secret import resolve_secret
from synapse_gql.security.throttle import create_counter_store
from synapse_gql.state import AppState

logger = logging.getLogger(__name__)


def build_state(settings: Settings) -> AppState:
    """Database, keyring and LLM providers for ``settings``; the database URL must be set."""
    if not settings.database_url:
        raise RuntimeError("No database URL: start through `synapse-gql serve`.")
    previous = [s.get_secret_value() for s in settings.previous_secret_keys]
    realtime = create_broadcaster(settings.redis_url, client_name="synapse-gql-realtime")
    state = AppState(
        settings=settings,
        db=Database(settings.database_url, pool_size=settings.db_pool_size),
        keyring=Keyring(resolve_secret(settings), previous),
        realtime=realtime,
        stream_log=create_stream_log(
            realtime,
            settings.redis_url,
            settings.stream_retention_seconds,
            journal_dir=journal_dir(settings.data_dir),
        ),
        providers=build_llm_providers(settings),
    )
    state.generations = GenerationManager(state)
    state.login_guard = LoginGuard(create_counter_store(settings.redis_url), settings)
    bind_alerts(state)
    state.operations = build_operations(settings, state.db.sessions)
    passwords.configure(settings.password_hash_workers)
    return state


@asynccontextmanager
async def running(state: AppState) -> AsyncIterator[None]:
    """Realtime and generations up for the life of the app; at shutdown, running answers
    are closed (as interrupted) before the connections go."""
    await state.realtime.connect()
    await state.stream_log.connect()
    await state.generations.start_background()
    try:
        yield
    finally:
        await state.generations.shutdown()
        if state.feed_hub is not None:
            state.feed_hub.close()
        await state.stream_log.close()
        await state.realtime.disconnect()
        await state.login_guard.close()
        await state.operations.close()
        await close_providers(state.providers)
        stopped(state)
        await state.db.dispose()


async def readiness(state: AppState) -> dict[str, str]:
    """``ok`` or the error of each dependency."""
    checks: dict[str, str] = {}
    try:
        await state.db.ping()
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"error: {type(error).__name__}: {error}"
    if state.settings.redis_url:
        checks["redis"] = await _ping_redis(state.settings.redis_url)
        checks["realtime"] = "ok" if await state.realtime.ping() else "error: not connected"
    return checks


async def _ping_redis(url: str) -> str:
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
        return "ok"
    except Exception as error:
        return f"error: {type(error).__name__}: {error}"
    finally:
        await client.aclose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app. The database is opened in the lifespan, closed on shutdown."""
    settings = settings or Settings()
    state = build_state(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running(state):
            yield

    app = FastAPI(title="Synapse GQL", version=__version__, lifespan=lifespan)
    app.state.synapse = state
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    graphql = SynapseGraphQLRouter(
        build_schema(settings),
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql else None,
        max_subscriptions_per_connection=settings.max_subscriptions_per_socket,
    )
    graphql.persisted_queries = state.operations.persisted
    if settings.graphiql:
        install_graphiql(app, graphql)  # GraphiQL's files served locally, checked at start
    app.include_router(graphql, prefix="/graphql")
    app.include_router(invoice_routes)
    app.include_router(dataset_routes)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready")
    async def ready(request: Request) -> JSONResponse:
        checks = await readiness(request.app.state.synapse)
        healthy = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if healthy else "unavailable", "checks": checks}
        return JSONResponse(body, status_code=200 if healthy else 503)

    observe(app, state)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker builds its own app).

    The objects made at import time (the SDKs and the schema: about 400 000) are moved out
    of the collector's reach: otherwise every full collection walks them, pausing the event
    loop, and so every stream, for a quarter of a second (measured by ``bench/``).
    """
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    return app
