"""Arrangements for the generation tests: an app whose providers point at the loopback
fakes (run with its lifespan, so the providers are closed), catalog ids, usage rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from synapse_gql.gql.relay import to_global_id
from tests.conftest import Account
from tests.gql_client import GraphQLClient
from tests.helpers import fetch, scalar

USAGE_COLUMNS = (
    "id, user_id, workspace_id, conversation_id, message_id, provider, model_id, input_tokens,"
    " output_tokens, tokens_estimated, cost, latency_ms, time_to_first_token_ms, status,"
    " error_code, error_message, parameters, api_key_source"
)


@dataclass
class Team:
    """A workspace and its owner."""

    owner: Account
    workspace: dict


async def make_team(make_user, make_workspace) -> Team:
    """An owner and their workspace, made over the API."""
    owner = await make_user("owner")
    return Team(owner, await make_workspace(owner))


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """``app`` between its startup and its shutdown (which closes the providers)."""
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def app_client(settings: Settings, **changes: Any) -> AsyncIterator[GraphQLClient]:
    """A GraphQL client on a running app built from ``settings`` with ``changes``."""
    async with running(create_app(settings.model_copy(update=changes))) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


def fake_urls(openai_url: str, anthropic_url: str) -> dict[str, str]:
    """Base URLs sending OpenAI and Anthropic calls to the fakes."""
    return {"openai": openai_url, "anthropic": anthropic_url}


async def llm_global_id(engine: AsyncEngine, model_id: str) -> str:
    """The global ID of the seeded catalog model ``model_id``."""
    db_id = await scalar(engine, "SELECT id FROM llms WHERE model_id = :m", m=model_id)
    return to_global_id("LLM", db_id)


async def usage_rows(engine: AsyncEngine) -> list[Any]:
    """Every usage log row, oldest first."""
    return await fetch(engine, f"SELECT {USAGE_COLUMNS} FROM usage_logs ORDER BY created_at")


async def usage_count(engine: AsyncEngine) -> int:
    """How many usage log rows exist."""
    return await scalar(engine, "SELECT count(*) FROM usage_logs")


async def generate(
    gql: GraphQLClient, token: str | None, workspace: dict, model: str, **fields: Any
) -> dict[str, Any]:
    """Run the ``Generate`` operation; returns its payload."""
    given = {"workspaceId": workspace["id"], "model": model, **fields}
    if "prompt" not in given and "messages" not in given:
        given["prompt"] = "Say hello."
    return (await gql.op("Generate", token, input=given))["generate"]
