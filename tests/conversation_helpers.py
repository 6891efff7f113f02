"""Arrangements shared by the conversation and message tests: a team, conversations made
over GraphQL, and rows that only later features write (messages, tags, per-LLM usage)
inserted straight into the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.gql.relay import decode_id, to_global_id
from tests.conftest import Account
from tests.helpers import db_id, execute, scalar

BASE_TIME = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Team:
    """A workspace with an owner, a member and a viewer, and an outsider with their own."""

    workspace: dict
    owner: Account
    member: Account
    viewer: Account
    outsider: Account

    def caller(self, who: str) -> Account | None:
        """The account named ``who``; None for "anonymous"."""
        return None if who == "anonymous" else getattr(self, who)


async def make_team(make_user, make_workspace, add_member) -> Team:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    member, viewer, outsider = [await make_user(n) for n in ("member", "viewer", "outsider")]
    await add_member(owner, workspace, member, "MEMBER")
    await add_member(owner, workspace, viewer, "VIEWER")
    await make_workspace(outsider, "Elsewhere")
    return Team(workspace, owner, member, viewer, outsider)


def token(actor: Account | None) -> str | None:
    return None if actor is None else actor.token


async def start(gql, actor: Account | None, workspace: dict, **extra: Any) -> dict:
    """``createConversation`` in ``workspace``; returns the result payload."""
    given = {"workspaceId": workspace["id"], **extra}
    return (await gql.op("CreateConversation", token(actor), input=given))["createConversation"]


async def llm_id(engine: AsyncEngine, model_id: str = "synapse-dev") -> uuid.UUID:
    return await scalar(engine, "SELECT id FROM llms WHERE model_id = :m", m=model_id)


async def add_message(
    engine: AsyncEngine,
    conversation: dict,
    *,
    minute: int,
    role: str = "user",
    author: Account | None = None,
    content: str | None = None,
    **columns: Any,
) -> str:
    """Insert a completed message created ``minute`` minutes after BASE_TIME; its global ID."""
    message_id = uuid.uuid4()
    values = {
        "id": message_id,
        "conversation_id": db_id(conversation["id"]),
        "role": role,
        "content": content if content is not None else f"message {minute}",
        "status": "completed",
        "author_id": None if author is None else decode_id(author.id, "User"),
        "created_at": BASE_TIME + timedelta(minutes=minute),
        **columns,
    }
    names = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    await execute(engine, f"INSERT INTO messages ({names}) VALUES ({params})", **values)
    return to_global_id("Message", message_id)


async def add_tag(engine: AsyncEngine, workspace: dict, name: str) -> str:
    """Insert a manual tag in ``workspace``; its global ID."""
    tag_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO tags (id, workspace_id, name, source) VALUES (:id, :w, :n, 'manual')",
        id=tag_id,
        w=decode_id(workspace["id"], "Workspace"),
        n=name,
    )
    return to_global_id("Tag", tag_id)


async def tag(engine: AsyncEngine, conversation: dict, *tags: str) -> None:
    """Apply ``tags`` (global IDs) to ``conversation``."""
    for tag_gid in tags:
        await execute(
            engine,
            "INSERT INTO conversation_tags (conversation_id, tag_id) VALUES (:c, :t)",
            c=db_id(conversation["id"]),
            t=decode_id(tag_gid, "Tag"),
        )
