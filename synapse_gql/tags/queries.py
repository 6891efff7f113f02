"""Entities by tag, and ``node`` resolution of tags."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

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


async def _tags(info: Info, ids: Sequence[uuid.UUID]) -> list[TagType | None]:
    rows = await visible_rows(info, Tag, ids)
    return [None if r is None else TagType.from_row(r) for r in rows]


register_node("Tag", _tags)
