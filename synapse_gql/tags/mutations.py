"""Tag mutations: create, update, delete, and apply to or remove from entities.

Applying and removing return the tag; the entity's tags are its ``tags`` field.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.tags import service
from synapse_gql.tags.types import (
    CreateTagInput,
    TagConversationInput,
    TagMessageInput,
    TagProjectInput,
    TagType,
    UpdateTagInput,
)
from synapse_gql.workspaces.mutations import Deleted, DeleteResult

TagResult = Annotated[TagType | UserError, strawberry.union("TagResult")]
ENTITY_TYPES = {"conversation": "Conversation", "message": "Message", "project": "Project"}


async def _link(
    info: Info, kind: str, tag_id: strawberry.ID, entity_id: strawberry.ID, on: bool
) -> TagType:
    viewer = info.context.require_viewer()
    field = f"{kind}Id"
    tag_db_id = decode_id(tag_id, "Tag", field=["input", "tagId"])
    entity_db_id: uuid.UUID = decode_id(entity_id, ENTITY_TYPES[kind], field=["input", field])
    change = service.tag_entity if on else service.untag_entity
    async with info.context.state.db.transaction() as session:
        row = await change(session, viewer.id, kind, tag_db_id, entity_db_id)
    return TagType.from_row(row)


@strawberry.type
class TagMutation:
    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Create a tag (members).")
    async def create_tag(self, info: Info, input: CreateTagInput) -> TagResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        async with info.context.state.db.transaction() as session:
            row = await service.create_tag(
                session, viewer.id, workspace_id, input.name, input.color, input.category
            )
        return TagType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Rename, recolour or recategorise a tag."
    )
    async def update_tag(self, info: Info, input: UpdateTagInput) -> TagResult:
        viewer = info.context.require_viewer()
        tag_id = decode_id(input.id, "Tag", field=["input", "id"])
        changes = {
            k: getattr(input, k)
            for k in ("name", "color")
            if getattr(input, k) not in (strawberry.UNSET, None)
        }
        if input.category is not strawberry.UNSET:
            changes["category"] = input.category
        async with info.context.state.db.transaction() as session:
            row = await service.update_tag(session, viewer.id, tag_id, changes)
        return TagType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Delete a tag and take it off everything."
    )
    async def delete_tag(self, info: Info, id: strawberry.ID) -> DeleteResult:
        viewer = info.context.require_viewer()
        tag_id = decode_id(id, "Tag")
        async with info.context.state.db.transaction() as session:
            await service.delete_tag(session, viewer.id, tag_id)
        return Deleted(id=id)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Tag a conversation; returns the tag."
    )
    async def tag_conversation(self, info: Info, input: TagConversationInput) -> TagResult:
        return await _link(info, "conversation", input.tag_id, input.conversation_id, True)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Untag a conversation; returns the tag."
    )
    async def untag_conversation(self, info: Info, input: TagConversationInput) -> TagResult:
        return await _link(info, "conversation", input.tag_id, input.conversation_id, False)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Tag a message; returns the tag."
    )
    async def tag_message(self, info: Info, input: TagMessageInput) -> TagResult:
        return await _link(info, "message", input.tag_id, input.message_id, True)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Untag a message; returns the tag."
    )
    async def untag_message(self, info: Info, input: TagMessageInput) -> TagResult:
        return await _link(info, "message", input.tag_id, input.message_id, False)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Tag a project; returns the tag."
    )
    async def tag_project(self, info: Info, input: TagProjectInput) -> TagResult:
        return await _link(info, "project", input.tag_id, input.project_id, True)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Untag a project; returns the tag."
    )
    async def untag_project(self, info: Info, input: TagProjectInput) -> TagResult:
        return await _link(info, "project", input.tag_id, input.project_id, False)
