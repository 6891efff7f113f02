"""GraphQL types of tags."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from sqlalchemy import func

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.context import Info
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.refs import ConversationRef, MessageRef, ProjectRef, WorkspaceRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import Tag, TagSource
from synapse_gql.tags.fields import tagged_field
from synapse_gql.tags.loaders import TagLoader

strawberry.enum(TagSource, name="TagSource")
TagSourceType = TagSource


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
        from synapse_gql.workspaces.types import load_workspace

        return await load_workspace(info, self.workspace_id)

    @strawberry.field
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.created_by_id)

    conversations = tagged_field(
        "conversation", ConversationRef, "Conversations with this tag, newest first."
    )
    messages = tagged_field("message", MessageRef, "Messages with this tag, newest first.")
    projects = tagged_field("project", ProjectRef, "Projects with this tag, newest first.")


async def tags_of(info: Info, kind: str, entity_id: uuid.UUID) -> list[TagType]:
    """Tags of a conversation, message or project the caller may read, by name (one
    statement for every entity of ``kind`` the request shows)."""
    return [TagType.from_row(tag) for tag in await TagLoader(info).of(kind, entity_id)]


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
