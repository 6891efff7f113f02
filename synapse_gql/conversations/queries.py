"""Conversation lists, and ``node`` resolution of conversations, messages and their usage."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

import strawberry

from synapse_gql.context import Info
from synapse_gql.conversations import access
from synapse_gql.conversations.inputs import ConversationFilter
from synapse_gql.conversations.loaders import ConversationLoader, MessageLoader
from synapse_gql.conversations.repository import ConversationOrder, Criteria
from synapse_gql.conversations.types import ConversationLLMType, ConversationType, MessageType
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.relay import decode_id, register_node
from synapse_gql.gql.selection import connection_selection


def _id(value: strawberry.ID | None, type_name: str, name: str) -> uuid.UUID | None:
    return None if value is None else decode_id(value, type_name, field=["filter", name])


def criteria(given: ConversationFilter | None) -> Criteria:
    """The decoded filters; IDs of the wrong type fail with a path under ``filter``."""
    given = given or ConversationFilter()
    tag_ids = [decode_id(t, "Tag", field=["filter", "tagIds"]) for t in given.tag_ids or ()]
    return Criteria(
        project_id=_id(given.project_id, "Project", "projectId"),
        agent_id=_id(given.agent_id, "Agent", "agentId"),
        status=given.status,
        tag_ids=tuple(sorted(set(tag_ids))),
        tag_match=given.tag_match,
        title_contains=given.title_contains,
        created_after=given.created_after,
        created_before=given.created_before,
        updated_after=given.updated_after,
        updated_before=given.updated_before,
    )


async def conversation_connection(
    info: Info,
    scope: Literal["workspace", "project"],
    parent_id: uuid.UUID,
    filter: ConversationFilter | None,
    order: ConversationOrder,
    args: PageArgs,
) -> Connection[ConversationType]:
    """Conversations of a workspace or project the caller may read (batched by parent)."""
    return await ConversationLoader(info).page(
        scope,
        parent_id,
        criteria(filter),
        order,
        args,
        connection_selection(info),
        ConversationType.of_values,
    )


async def _conversations(info: Info, ids: Sequence[uuid.UUID]) -> list[ConversationType | None]:
    viewer = info.context.viewer
    if viewer is None:
        return [None] * len(ids)
    readable = access.readable_workspaces(viewer.id)
    rows = await ConversationLoader(info).visible(ids, readable)
    return [None if r is None else ConversationType.of_row(r) for r in rows]


async def _messages(info: Info, ids: Sequence[uuid.UUID]) -> list[MessageType | None]:
    viewer = info.context.viewer
    if viewer is None:
        return [None] * len(ids)
    readable = access.readable_conversation_ids(viewer.id)
    rows = await MessageLoader(info).visible(ids, readable)
    return [None if r is None else MessageType.of_row(r) for r in rows]


async def _conversation_llms(
    info: Info, ids: Sequence[uuid.UUID]
) -> list[ConversationLLMType | None]:
    rows = await access.visible_conversation_llms(info, ids)
    return [None if r is None else ConversationLLMType.from_row(r) for r in rows]


register_node("Conversation", _conversations)
register_node("Message", _messages)
register_node("ConversationLLM", _conversation_llms)
