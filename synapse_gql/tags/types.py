"""GraphQL types of tags."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from synapse_gql.accounts.types import UserType
from synapse_gql.context import Info
from synapse_gql.gql.refs import ConversationRef, MessageRef, ProjectRef, WorkspaceRef, load_object
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import Tag, TagSource
from synapse_gql.tags.fields import tagged_field

if TYPE_CHECKING:
    pass

TagSourceType = strawberry.enum(TagSource, name="TagSource")


@strawberry.type(
    name="Tag", description="A workspace's label for conversations, messages, projects."
)
class TagType(Node):
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    created_by_id: strawberry.Private[uuid.UUID | None]
    name: str
    color: str = strawberry.field(description="A #rrggbb hex colour.")
    category: str | None
    source: TagSourceType
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Tag) -> TagType:
        return cls(
            id=to_global_id("Tag", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            created_by_id=row.created_by_id,
            name=row.name,
            color=row.color,
            category=row.category,
            source=row.source,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        from synapse_gql.models import Workspace
        from synapse_gql.workspaces.types import WorkspaceType

        return await load_object(info, Workspace, self.workspace_id, WorkspaceType.from_row)

    @strawberry.field
    async def created_by(self, info: Info) -> UserType | None:
        from synapse_gql.workspaces.types import load_user

        return await load_user(info, self.created_by_id)

    conversations = tagged_field(
        "conversation", ConversationRef, "Conversations with this tag, newest first."
    )
    messages = tagged_field("message", MessageRef, "Messages with this tag, newest first.")
    projects = tagged_field("project", ProjectRef, "Projects with this tag, newest first.")


@strawberry.input
class CreateTagInput:
    workspace_id: strawberry.ID
    name: str = strawberry.field(description="1 to 64 characters, unique in the workspace.")
    color: str | None = strawberry.field(
        default=None, description="A #rrggbb hex colour; #6b7280 when omitted."
    )
    category: str | None = None


@strawberry.input(description="Changes to a tag; omitted fields stay, a null category clears it.")
class UpdateTagInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    color: str | None = strawberry.UNSET
    category: str | None = strawberry.UNSET


@strawberry.input
class TagConversationInput:
    tag_id: strawberry.ID
    conversation_id: strawberry.ID


@strawberry.input
class TagMessageInput:
    tag_id: strawberry.ID
    message_id: strawberry.ID


@strawberry.input
class TagProjectInput:
    tag_id: strawberry.ID
    project_id: strawberry.ID
