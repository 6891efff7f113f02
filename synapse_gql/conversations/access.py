"""Who may read conversations, messages and usage rows: members of the owning workspace.

Messages and per-LLM rows have no workspace column; they are visible through their
conversation, resolved with batched loaders.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.context import Info
from synapse_gql.conversations import repository
from synapse_gql.errors import NotFound
from synapse_gql.models import Conversation, ConversationLLM, MemberRole, Message
from synapse_gql.workspaces.access import require_role, viewer_role
from synapse_gql.workspaces.membership import readable_workspaces


def readable_conversation_ids(user_id: uuid.UUID) -> Select[Any]:
    """Ids of the conversations ``user_id`` may read."""
    return select(Conversation.id).where(
        Conversation.workspace_id.in_(readable_workspaces(user_id))
    )


async def readable_conversation(info: Info, conversation_id: uuid.UUID) -> bool:
    """Whether the viewer belongs to the workspace of ``conversation_id`` (batched)."""
    conversation = await info.context.loaders.by_id(Conversation).load(conversation_id)
    if conversation is None:
        return False
    return await viewer_role(info, conversation.workspace_id) is not None


async def _visible_children(info: Info, model: type[Any], ids: Sequence[uuid.UUID]) -> list[Any]:
    rows = await info.context.loaders.rows(select(model).where(model.id.in_(ids)))
    readable = await asyncio.gather(*(readable_conversation(info, r.conversation_id) for r in rows))
    found = {row.id: row for row, ok in zip(rows, readable, strict=True) if ok}
    return [found.get(i) for i in ids]


async def visible_conversation_llms(
    info: Info, ids: Sequence[uuid.UUID]
) -> list[ConversationLLM | None]:
    """Per-LLM usage rows by id, visible like their conversation."""
    return await _visible_children(info, ConversationLLM, ids)


async def message_workspace(
    session: AsyncSession, message_id: uuid.UUID
) -> tuple[Message, Conversation] | None:
    """The message and its conversation (whose ``workspace_id`` writers check), or None."""
    return await repository.message_with_conversation(session, message_id)


async def conversation_for(
    session: AsyncSession,
    user_id: uuid.UUID,
    conversation_id: uuid.UUID,
    minimum: MemberRole,
    field: Sequence[str],
) -> Conversation:
    """The conversation when the user holds ``minimum`` in its workspace; NOT_FOUND (as for
    an unknown id) or FORBIDDEN otherwise."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.", field=field)
    await require_role(
        session, conversation.workspace_id, user_id, minimum, field=field, what="conversation"
    )
    return conversation


async def message_for(
    session: AsyncSession,
    user_id: uuid.UUID,
    message_id: uuid.UUID,
    minimum: MemberRole,
    field: Sequence[str],
) -> tuple[Message, Conversation]:
    """The message and its conversation when the user holds ``minimum`` in its workspace."""
    found = await repository.message_with_conversation(session, message_id)
    if found is None:
        raise NotFound("No such message.", field=field)
    await require_role(
        session, found[1].workspace_id, user_id, minimum, field=field, what="message"
    )
    return found
