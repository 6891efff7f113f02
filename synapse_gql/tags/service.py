"""Tag rules: members and above create, edit, delete and apply tags; viewers only read.

A tag applies only to conversations, messages and projects of its own workspace.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.errors import Conflict, InvalidInput, NotFound
from synapse_gql.gql import validation
from synapse_gql.models import MemberRole, Tag, TagSource
from synapse_gql.tags import repository
from synapse_gql.workspaces.access import require_role, role_of

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#6b7280"
ENTITY_FIELDS = {
    "conversation": ("conversation", ["input", "conversationId"]),
    "message": ("message", ["input", "messageId"]),
    "project": ("project", ["input", "projectId"]),
}


def _color(value: str) -> str:
    value = value.strip()
    if not COLOR_RE.match(value):
        raise InvalidInput("A colour is a hex code like #6b7280.", field=["input", "color"])
    return value.lower()


def _category(value: str | None) -> str | None:
    if value is None:
        return None
    return validation.text(value, ["input", "category"], min_len=0, max_len=64) or None


async def _unique_name(
    session: AsyncSession, workspace_id: uuid.UUID, name: str, exclude: uuid.UUID | None = None
) -> str:
    name = validation.text(name, ["input", "name"], max_len=64)
    await repository.lock_names(session, workspace_id)
    if await repository.name_taken(session, workspace_id, name, exclude):
        raise Conflict(
            f"A tag named {name!r} already exists in this workspace.", field=["input", "name"]
        )
    return name


async def create_tag(
    session: AsyncSession,
    actor_id: uuid.UUID,
    workspace_id: uuid.UUID,
    name: str,
    color: str | None,
    category: str | None,
) -> Tag:
    """A new manual tag, its name unique in the workspace regardless of case."""
    await require_role(session, workspace_id, actor_id, MemberRole.MEMBER)
    color = DEFAULT_COLOR if color is None else _color(color)
    category = _category(category)
    tag = Tag(
        workspace_id=workspace_id,
        name=await _unique_name(session, workspace_id, name),
        color=color,
        category=category,
        source=TagSource.MANUAL,
        created_by_id=actor_id,
    )
    session.add(tag)
    await session.flush()
    return tag


async def _editable(
    session: AsyncSession, actor_id: uuid.UUID, tag_id: uuid.UUID, field: Sequence[str]
) -> Tag:
    tag = await session.get(Tag, tag_id, with_for_update=True)
    if tag is None:
        raise NotFound("No such tag.", field=field)
    await require_role(
        session, tag.workspace_id, actor_id, MemberRole.MEMBER, field=field, what="tag"
    )
    return tag


async def update_tag(
    session: AsyncSession, actor_id: uuid.UUID, tag_id: uuid.UUID, changes: dict[str, Any]
) -> Tag:
    """Rename, recolour or recategorise a tag (a None category clears it)."""
    tag = await _editable(session, actor_id, tag_id, ("input", "id"))
    if "color" in changes:
        tag.color = _color(changes["color"])
    if "category" in changes:
        tag.category = _category(changes["category"])
    if "name" in changes:
        tag.name = await _unique_name(session, tag.workspace_id, changes["name"], tag.id)
    await session.flush()
    return tag


async def delete_tag(session: AsyncSession, actor_id: uuid.UUID, tag_id: uuid.UUID) -> None:
    """Delete a tag; the database removes its links to conversations, messages, projects."""
    tag = await _editable(session, actor_id, tag_id, ("id",))
    await session.delete(tag)
    await session.flush()


async def _tag_and_entity(
    session: AsyncSession, actor_id: uuid.UUID, kind: str, tag_id: uuid.UUID, entity_id: uuid.UUID
) -> Tag:
    tag = await session.get(Tag, tag_id, with_for_update={"read": True})
    if tag is None:
        raise NotFound("No such tag.", field=["input", "tagId"])
    await require_role(
        session, tag.workspace_id, actor_id, MemberRole.MEMBER, field=["input", "tagId"], what="tag"
    )
    what, field = ENTITY_FIELDS[kind]
    workspace_id = await repository.entity_workspace(session, kind, entity_id)
    if workspace_id is None:
        raise NotFound(f"No such {what}.", field=field)
    if workspace_id != tag.workspace_id:
        if await role_of(session, workspace_id, actor_id) is None:
            raise NotFound(f"No such {what}.", field=field)
        raise InvalidInput(
            f"This tag belongs to another workspace than the {what}.", field=["input", "tagId"]
        )
    return tag


async def tag_entity(
    session: AsyncSession, actor_id: uuid.UUID, kind: str, tag_id: uuid.UUID, entity_id: uuid.UUID
) -> Tag:
    """Apply a tag to a conversation, message or project (idempotent)."""
    tag = await _tag_and_entity(session, actor_id, kind, tag_id, entity_id)
    await repository.apply(session, kind, tag.id, entity_id)
    return tag


async def untag_entity(
    session: AsyncSession, actor_id: uuid.UUID, kind: str, tag_id: uuid.UUID, entity_id: uuid.UUID
) -> Tag:
    """Take a tag off a conversation, message or project (idempotent)."""
    tag = await _tag_and_entity(session, actor_id, kind, tag_id, entity_id)
    await repository.remove(session, kind, tag.id, entity_id)
    return tag
