"""Tag lists, entities by tag, tags of an entity, and ``node`` resolution of tags."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func

from synapse_gql.context import Info
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.relay import register_node
from synapse_gql.models import (
    Conversation,
    ConversationTag,
    Message,
    MessageTag,
    Project,
    ProjectTag,
    Tag,
)
from synapse_gql.tags import repository
from synapse_gql.tags.types import TagType
from synapse_gql.workspaces.access import visible_rows

# Entities by tag: the entity is the row, the parent key is the link table's tag_id,
# joined to the entity through the implicit FROM of ``where``.
TAGGED = {
    "conversation": ChildList(
        name=("tagged", "conversation"),
        model=Conversation,
        parent=ConversationTag.tag_id,
        key=SortKey(Conversation.created_at, Conversation.id),
        where=[ConversationTag.conversation_id == Conversation.id],
    ),
    "message": ChildList(
        name=("tagged", "message"),
        model=Message,
        parent=MessageTag.tag_id,
        key=SortKey(Message.created_at, Message.id),
        where=[MessageTag.message_id == Message.id],
    ),
    "project": ChildList(
        name=("tagged", "project"),
        model=Project,
        parent=ProjectTag.tag_id,
        key=SortKey(Project.created_at, Project.id),
        where=[ProjectTag.project_id == Project.id],
    ),
}


def _converter(kind: str) -> Callable[[Any], Any]:
    if kind == "project":
        from synapse_gql.projects.types import ProjectType

        return ProjectType.from_row
    from synapse_gql.conversations.types import ConversationType, MessageType

    return ConversationType.from_row if kind == "conversation" else MessageType.from_row


async def tagged_connection(
    info: Info, kind: str, tag_id: uuid.UUID, args: PageArgs
) -> Connection[Any]:
    """Conversations, messages or projects carrying a tag the caller may read, newest
    first (batched across tags)."""
    return await child_connection(info, TAGGED[kind], tag_id, args, _converter(kind))


def _tag_list(category: str | None) -> ChildList:
    where = [] if category is None else [Tag.category == category]
    return ChildList(
        name=("tags", category),
        model=Tag,
        parent=Tag.workspace_id,
        key=SortKey(func.lower(Tag.name), Tag.id, descending=False),
        where=where,
    )


async def tag_connection(
    info: Info, workspace_id: uuid.UUID, category: str | None, args: PageArgs
) -> Connection[TagType]:
    """Tags of a workspace the caller may read, by name (batched across workspaces)."""
    return await child_connection(info, _tag_list(category), workspace_id, args, TagType.from_row)


async def tags_of(info: Info, kind: str, entity_id: uuid.UUID) -> list[TagType]:
    """Tags of a conversation, message or project the caller may read, by name.

    One query for every entity of ``kind`` asked for in the request.
    """

    async def batch(ids: Sequence[uuid.UUID]) -> list[list[TagType]]:
        grouped: dict[uuid.UUID, list[TagType]] = defaultdict(list)
        async with info.context.sessions() as session:
            for entity, tag in (await session.execute(repository.tags_of(kind, ids))).all():
                grouped[entity].append(TagType.from_row(tag))
        return [grouped.get(i, []) for i in ids]

    return await info.context.loaders.get(("tags_of", kind), batch).load(entity_id)


async def _tags(info: Info, ids: Sequence[uuid.UUID]) -> list[TagType | None]:
    rows = await visible_rows(info, Tag, ids)
    return [None if r is None else TagType.from_row(r) for r in rows]


register_node("Tag", _tags)
