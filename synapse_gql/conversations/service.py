"""Conversation and message rules.

Members and above start conversations; members and above, or the conversation's
creator, rename, archive, restore and delete it. Only the author of a user message
edits it, and an edit is a new message linked to the original, which stays as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.agents.service import project_in
from synapse_gql.conversations import repository
from synapse_gql.errors import Forbidden, InvalidInput, NotFound
from synapse_gql.gql import validation
from synapse_gql.models import (
    Agent,
    Conversation,
    ConversationStatus,
    MemberRole,
    Message,
    MessageRole,
    MessageStatus,
)
from synapse_gql.workspaces.access import require_role

DEFAULT_TITLE = "New conversation"
MAX_TITLE = 300
MAX_CONTENT = 100_000


async def _agent_in(
    session: AsyncSession, workspace_id: uuid.UUID, agent_id: uuid.UUID
) -> uuid.UUID:
    found = await session.scalar(select(Agent.workspace_id).where(Agent.id == agent_id))
    if found != workspace_id:
        raise NotFound("No such agent in this workspace.", field=["input", "agentId"])
    return agent_id


def _title(value: str, field: list[str]) -> str:
    return validation.text(value, field, max_len=MAX_TITLE)


async def create_conversation(
    session: AsyncSession,
    actor_id: uuid.UUID,
    workspace_id: uuid.UUID,
    *,
    project_id: uuid.UUID | None = None,
    agent_id: uuid.UUID | None = None,
    title: str | None = None,
    metadata: Any = None,
) -> Conversation:
    """A new active conversation (members and above); project and agent of the same workspace."""
    await require_role(session, workspace_id, actor_id, MemberRole.MEMBER)
    conversation = Conversation(
        workspace_id=workspace_id,
        created_by_id=actor_id,
        status=ConversationStatus.ACTIVE,
        title=DEFAULT_TITLE if title is None else _title(title, ["input", "title"]),
        metadata_=validation.json_object(
            {} if metadata is None else metadata, ["input", "metadata"]
        ),
        project_id=None
        if project_id is None
        else await project_in(session, workspace_id, project_id, ["input", "projectId"]),
        agent_id=None if agent_id is None else await _agent_in(session, workspace_id, agent_id),
    )
    session.add(conversation)
    await session.flush()
    return conversation


async def _manageable(
    session: AsyncSession, actor_id: uuid.UUID, conversation_id: uuid.UUID, field: Sequence[str]
) -> Conversation:
    """The conversation, locked, when the actor is a member+ or its creator."""
    conversation = await session.get(Conversation, conversation_id, with_for_update=True)
    if conversation is None:
        raise NotFound("No such conversation.", field=field)
    role = await require_role(
        session,
        conversation.workspace_id,
        actor_id,
        MemberRole.VIEWER,
        field=field,
        what="conversation",
    )
    if role.rank < MemberRole.MEMBER.rank and conversation.created_by_id != actor_id:
        raise Forbidden("Only members and the conversation's creator may change it.", field=field)
    return conversation


async def rename_conversation(
    session: AsyncSession, actor_id: uuid.UUID, conversation_id: uuid.UUID, title: str
) -> Conversation:
    """Give a conversation a new title (1 to 300 characters)."""
    conversation = await _manageable(session, actor_id, conversation_id, ("input", "id"))
    conversation.title = _title(title, ["input", "title"])
    await session.flush()
    return conversation


async def set_status(
    session: AsyncSession,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    status: ConversationStatus,
) -> Conversation:
    """Archive or restore a conversation."""
    conversation = await _manageable(session, actor_id, conversation_id, ("id",))
    conversation.status = status
    await session.flush()
    return conversation


async def delete_conversation(
    session: AsyncSession, actor_id: uuid.UUID, conversation_id: uuid.UUID
) -> None:
    """Delete a conversation with its messages and usage aggregates (database cascade)."""
    conversation = await _manageable(session, actor_id, conversation_id, ("id",))
    await session.delete(conversation)
    await session.flush()


def check_content(content: str) -> str:
    """``content`` when it is a valid message text, else INVALID_INPUT."""
    if not content.strip() or len(content) > MAX_CONTENT:
        raise InvalidInput(
            f"A message has 1 to {MAX_CONTENT} characters.", field=["input", "content"]
        )
    return content


async def edit_message(
    session: AsyncSession, actor_id: uuid.UUID, message_id: uuid.UUID, content: str
) -> Message:
    """A new user message replacing ``message_id``, which is kept as its parent.

    Only the author of a user message, still a member or above, may edit it.
    """
    field = ["input", "messageId"]
    found = await repository.message_with_conversation(session, message_id)
    if found is None:
        raise NotFound("No such message.", field=field)
    original, conversation = found
    await require_role(
        session, conversation.workspace_id, actor_id, MemberRole.VIEWER, field=field, what="message"
    )
    if original.role is not MessageRole.USER or original.author_id != actor_id:
        raise Forbidden("Only the author of a user message may edit it.", field=field)
    await require_role(
        session, conversation.workspace_id, actor_id, MemberRole.MEMBER, field=field, what="message"
    )
    edited = Message(
        conversation_id=conversation.id,
        role=MessageRole.USER,
        content=check_content(content),
        status=MessageStatus.COMPLETED,
        author_id=actor_id,
        parent_id=original.id,
        created_at=func.clock_timestamp(),
        completed_at=datetime.now(UTC),
    )
    session.add(edited)
    await session.flush()
    await repository.count_new_message(session, conversation.id)
    return edited
