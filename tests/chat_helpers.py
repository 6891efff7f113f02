"""Arrangements for the conversation-answer tests: an app served on loopback with a fast
mock model, a team, a conversation, and sending over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from tests.conftest import Account
from tests.gql_client import GraphQLClient
from tests.live import serve


@dataclass
class Served:
    """A running app: its HTTP GraphQL client and WebSocket URL."""

    app: FastAPI
    gql: GraphQLClient
    ws_url: str


@asynccontextmanager
async def served(settings: Settings, **changes: Any) -> AsyncIterator[Served]:
    """``create_app(settings + changes)`` started, served by uvicorn on loopback."""
    app = create_app(settings.model_copy(update=changes))
    async with (
        app.router.lifespan_context(app),
        serve(app) as address,
        httpx.AsyncClient(base_url=f"http://{address}", timeout=30) as http,
    ):
        yield Served(app, GraphQLClient(http), f"ws://{address}/graphql")


async def new_conversation(
    gql: GraphQLClient, owner: Account, workspace: dict, **extra: Any
) -> dict:
    given = {"workspaceId": workspace["id"], **extra}
    payload = (await gql.op("CreateConversation", owner.token, input=given))["createConversation"]
    assert payload["__typename"] == "Conversation", payload
    return payload


async def send(
    gql: GraphQLClient, actor: Account | None, conversation: dict, content: str, **options: Any
) -> dict:
    """``sendMessage``; the result payload."""
    given = {"conversationId": conversation["id"], "content": content, **options}
    token = None if actor is None else actor.token
    return (await gql.op("SendMessage", token, input=given))["sendMessage"]


async def wait_for(condition, seconds: float = 30.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` (async; it reads the database or the server) until it returns
    something truthy."""
    async with asyncio.timeout(seconds):
        while not (value := await condition()):  # noqa: ASYNC110 (polls another process's state)
            await asyncio.sleep(interval)
    return value
