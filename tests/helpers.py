"""Small helpers shared by the tests: direct SQL, user errors, an app with other settings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from synapse_gql.gql.relay import from_global_id
from tests.gql_client import GraphQLClient


async def fetch(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    """Rows of a SELECT run straight against the database."""
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def scalar(engine: AsyncEngine, sql: str, **params: Any) -> Any:
    """The single value of a SELECT."""
    async with engine.connect() as conn:
        return (await conn.execute(text(sql), params)).scalar_one()


async def execute(engine: AsyncEngine, sql: str, **params: Any) -> None:
    """Run a statement in its own committed transaction."""
    async with engine.begin() as conn:
        await conn.execute(text(sql), params)


async def make_admin(engine: AsyncEngine, email: str) -> None:
    """Turn the user with ``email`` into a platform administrator."""
    await execute(engine, "UPDATE users SET is_platform_admin = true WHERE email = :e", e=email)


def user_error(payload: dict[str, Any], code: str, path: list[str] | None = None) -> str:
    """Assert ``payload`` is a UserError with ``code`` (and ``path``); return its message."""
    assert payload["__typename"] == "UserError", payload
    assert payload["code"] == code, payload
    if path is not None:
        assert payload["path"] == path, payload
    return payload["message"]


def error_codes(body: dict[str, Any]) -> list[str]:
    """``extensions.code`` of each GraphQL error of a response body."""
    return [(error.get("extensions") or {}).get("code") for error in body.get("errors", [])]


@asynccontextmanager
async def client_with(settings: Settings, **changes: Any) -> AsyncIterator[GraphQLClient]:
    """A GraphQL client on an app built from ``settings`` with ``changes`` applied."""
    app = create_app(settings.model_copy(update=changes))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)
    finally:
        await app.state.synapse.db.dispose()


def db_id(global_id: str) -> uuid.UUID:
    """The database id inside a global ID of any type."""
    return from_global_id(global_id)[1]
