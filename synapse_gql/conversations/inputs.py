"""GraphQL inputs and enums of conversations (no type imports, so any type may use them)."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from synapse_gql.conversations.repository import ConversationOrder, TagMatch
from synapse_gql.models import ConversationStatus

strawberry.enum(ConversationStatus, name="ConversationStatus")
ConversationStatusType = ConversationStatus
strawberry.enum(
    ConversationOrder, name="ConversationOrder", description="How conversation lists are sorted."
)
ConversationOrderType = ConversationOrder
strawberry.enum(
    TagMatch, name="TagMatch", description="Whether any or all of the given tags must be applied."
)
TagMatchType = TagMatch


@strawberry.input(description="Filters of a conversation list; all given filters must hold.")
class ConversationFilter:
    project_id: strawberry.ID | None = None
    agent_id: strawberry.ID | None = None
    status: ConversationStatusType | None = strawberry.field(
        default=ConversationStatus.ACTIVE, description="Active by default; null for any status."
    )
    tag_ids: list[strawberry.ID] | None = None
    tag_match: TagMatchType = TagMatch.ANY
    title_contains: str | None = strawberry.field(
        default=None, description="Case-insensitive substring of the title."
    )
    created_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    created_before: datetime | None = strawberry.field(default=None, description="Exclusive.")
    updated_after: datetime | None = strawberry.field(default=None, description="Inclusive.")
    updated_before: datetime | None = strawberry.field(default=None, description="Exclusive.")


@strawberry.input
class CreateConversationInput:
    workspace_id: strawberry.ID
    project_id: strawberry.ID | None = None
    agent_id: strawberry.ID | None = None
    title: str | None = strawberry.field(
        default=None, description='At most 300 characters; "New conversation" when omitted.'
    )
    metadata: JSON = strawberry.field(
        default_factory=dict, description="A JSON object of at most 16 KB."
    )


@strawberry.input
class RenameConversationInput:
    id: strawberry.ID
    title: str
