"""Conversation and message mutations."""

from __future__ import annotations

import uuid
from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.conversations import service
from synapse_gql.conversations.inputs import (
    CreateConversationInput,
    RenameConversationInput,
)
from synapse_gql.conversations.types import ConversationType, MessageType
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import ConversationStatus
from synapse_gql.workspaces.mutations import Deleted, DeleteResult

ConversationResult = Annotated[ConversationType | UserError, strawberry.union("ConversationResult")]
MessageResult = Annotated[MessageType | UserError, strawberry.union("MessageResult")]


def _optional_id(value: strawberry.ID | None, type_name: str, name: str) -> uuid.UUID | None:
    return None if value is None else decode_id(value, type_name, field=["input", name])


@strawberry.type
class ConversationMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Start a conversation (members)."
    )
    async def create_conversation(
        self, info: Info, input: CreateConversationInput
    ) -> ConversationResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        project_id = _optional_id(input.project_id, "Project", "projectId")
        agent_id = _optional_id(input.agent_id, "Agent", "agentId")
        async with info.context.state.db.transaction() as session:
            row = await service.create_conversation(
                session,
                viewer.id,
                workspace_id,
                project_id=project_id,
                agent_id=agent_id,
                title=input.title,
                metadata=input.metadata,
            )
        return ConversationType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Retitle a conversation (members, creator)."
    )
    async def rename_conversation(
        self, info: Info, input: RenameConversationInput
    ) -> ConversationResult:
        viewer = info.context.require_viewer()
        conversation_id = decode_id(input.id, "Conversation", field=["input", "id"])
        async with info.context.state.db.transaction() as session:
            row = await service.rename_conversation(
                session, viewer.id, conversation_id, input.title
            )
        return ConversationType.from_row(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Archive a conversation.")
    async def archive_conversation(self, info: Info, id: strawberry.ID) -> ConversationResult:
        return await _set_status(info, id, ConversationStatus.ARCHIVED)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Restore an archived conversation."
    )
    async def restore_conversation(self, info: Info, id: strawberry.ID) -> ConversationResult:
        return await _set_status(info, id, ConversationStatus.ACTIVE)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Delete a conversation and its messages (members, creator).",
    )
    async def delete_conversation(self, info: Info, id: strawberry.ID) -> DeleteResult:
        viewer = info.context.require_viewer()
        conversation_id = decode_id(id, "Conversation")
        async with info.context.state.db.transaction() as session:
            await service.delete_conversation(session, viewer.id, conversation_id)
        return Deleted(id=id)


async def _set_status(
    info: Info, id: strawberry.ID, status: ConversationStatus
) -> ConversationType:
    viewer = info.context.require_viewer()
    conversation_id = decode_id(id, "Conversation")
    async with info.context.state.db.transaction() as session:
        row = await service.set_status(session, viewer.id, conversation_id, status)
    return ConversationType.from_row(row)
