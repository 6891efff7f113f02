"""Conversations and messages written straight into the database, for tests of features
that only read them (tags, feedback)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.gql.relay import decode_id, to_global_id
from tests.helpers import execute


async def insert_conversation(engine: AsyncEngine, workspace: dict, title: str = "Chat") -> str:
    """A conversation of ``workspace``; returns its global ID."""
    db_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO conversations (id, workspace_id, title, status, metadata, total_cost)"
        " VALUES (:id, :workspace, :title, 'active', '{}'::jsonb, 0)",
        id=db_id,
        workspace=decode_id(workspace["id"], "Workspace"),
        title=title,
    )
    return to_global_id("Conversation", db_id)


async def insert_message(
    engine: AsyncEngine, conversation: str, content: str = "Hello", role: str = "assistant"
) -> str:
    """A completed message of ``conversation`` (a global ID); returns its global ID."""
    db_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO messages (id, conversation_id, role, content, status)"
        " VALUES (:id, :conversation, :role, :content, 'completed')",
        id=db_id,
        conversation=decode_id(conversation, "Conversation"),
        role=role,
        content=content,
    )
    return to_global_id("Message", db_id)
