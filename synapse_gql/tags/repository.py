"""SQL for tags and their links to conversations, messages and projects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from synapse_gql.models import (
    Conversation,
    ConversationTag,
    Message,
    MessageTag,
    Project,
    ProjectTag,
    Tag,
)


@dataclass(frozen=True)
class Taggable:
    """A kind of entity tags apply to: its link table and the link's entity column."""

    kind: str
    link: type
    entity: InstrumentedAttribute[uuid.UUID]


TAGGABLE = {
    "conversation": Taggable("conversation", ConversationTag, ConversationTag.conversation_id),
    "message": Taggable("message", MessageTag, MessageTag.message_id),
    "project": Taggable("project", ProjectTag, ProjectTag.project_id),
}


async def lock_names(session: AsyncSession, workspace_id: uuid.UUID) -> None:
    """Serialise tag creation and renames in a workspace until the transaction ends, so the
    case-insensitive name check cannot race (the table's constraint is case-sensitive)."""
    key = func.hashtextextended(f"tags:{workspace_id}", 0)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def name_taken(
    session: AsyncSession, workspace_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None
) -> bool:
    stmt = select(Tag.id).where(
        Tag.workspace_id == workspace_id, func.lower(Tag.name) == name.lower()
    )
    if exclude is not None:
        stmt = stmt.where(Tag.id != exclude)
    return await session.scalar(stmt.limit(1)) is not None


def _workspace_of(kind: str, entity_id: uuid.UUID) -> Select[uuid.UUID]:
    if kind == "conversation":
        stmt = select(Conversation.workspace_id).where(Conversation.id == entity_id)
        return stmt.with_for_update(read=True)
    if kind == "message":
        stmt = (
            select(Conversation.workspace_id)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.id == entity_id)
        )
        return stmt.with_for_update(read=True, of=Message)
    stmt = select(Project.workspace_id).where(Project.id == entity_id)
    return stmt.with_for_update(read=True)


async def entity_workspace(
    session: AsyncSession, kind: str, entity_id: uuid.UUID
) -> uuid.UUID | None:
    """The workspace of a conversation, message (its conversation's) or project, None when
    missing; the entity row stays share-locked so it cannot vanish before the commit."""
    return await session.scalar(_workspace_of(kind, entity_id))


async def apply(session: AsyncSession, kind: str, tag_id: uuid.UUID, entity_id: uuid.UUID) -> None:
    """Link a tag to an entity; linking twice is a no-op, also under concurrency."""
    taggable = TAGGABLE[kind]
    stmt = insert(taggable.link).values({taggable.entity.key: entity_id, "tag_id": tag_id})
    await session.execute(stmt.on_conflict_do_nothing())


async def remove(session: AsyncSession, kind: str, tag_id: uuid.UUID, entity_id: uuid.UUID) -> None:
    """Unlink a tag from an entity (nothing happens when it was not linked)."""
    taggable = TAGGABLE[kind]
    link = taggable.link
    await session.execute(
        delete(link).where(link.tag_id == tag_id, taggable.entity == entity_id)  # type: ignore[attr-defined]
    )


def tags_of(kind: str, entity_ids: Sequence[uuid.UUID]) -> Select[uuid.UUID, Tag]:
    """``(entity id, Tag)`` pairs for the entities, by tag name."""
    taggable = TAGGABLE[kind]
    return (
        select(taggable.entity, Tag)
        .join(Tag, Tag.id == taggable.link.tag_id)  # type: ignore[attr-defined]
        .where(taggable.entity.in_(entity_ids))
        .order_by(func.lower(Tag.name), Tag.id)
    )
