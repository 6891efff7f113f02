"""GraphQL types of message feedback and the workspace feedback summary."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

from synapse_gql.accounts.types import UserType
from synapse_gql.context import Info
from synapse_gql.gql.refs import MessageRef, load_object
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import FeedbackCategory, MessageFeedback, RatingType

if TYPE_CHECKING:
    pass

RatingTypeType = strawberry.enum(
    RatingType, name="RatingType", description="THUMBS 0/1, STARS 1-5, CUSTOM 0-scaleMax."
)
FeedbackCategoryType = strawberry.enum(FeedbackCategory, name="FeedbackCategory")


@strawberry.type(name="MessageFeedback", description="One user's rating of one message.")
class FeedbackType(Node):
    db_id: strawberry.Private[uuid.UUID]
    message_id: strawberry.Private[uuid.UUID]
    user_id: strawberry.Private[uuid.UUID]
    rating_type: RatingTypeType
    value: Decimal = strawberry.field(
        description="Thumbs: 0 down, 1 up; stars: 1 to 5; custom: 0 to scaleMax."
    )
    scale_max: Decimal | None = strawberry.field(description="Set for CUSTOM ratings only.")
    category: FeedbackCategoryType | None
    comment: str | None
    improvement_suggestion: str | None
    is_public: bool = strawberry.field(description="May be used in training datasets.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: MessageFeedback) -> FeedbackType:
        return cls(
            id=to_global_id("MessageFeedback", row.id),
            db_id=row.id,
            message_id=row.message_id,
            user_id=row.user_id,
            rating_type=row.rating_type,
            value=row.value,
            scale_max=row.scale_max,
            category=row.category,
            comment=row.comment,
            improvement_suggestion=row.improvement_suggestion,
            is_public=row.is_public,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field(description="The rated message.")
    async def message(self, info: Info) -> MessageRef | None:
        from synapse_gql.conversations.types import MessageType
        from synapse_gql.models import Message

        return await load_object(info, Message, self.message_id, MessageType.from_row)

    @strawberry.field(description="Who rated.")
    async def user(self, info: Info) -> UserType | None:
        from synapse_gql.workspaces.types import load_user

        return await load_user(info, self.user_id)


@strawberry.type(description="Ratings of one type.")
class RatingTypeSummary:
    rating_type: RatingTypeType
    count: int
    average_value: Decimal | None = strawberry.field(
        description="Mean value, rounded to two places; null without ratings."
    )


@strawberry.type(description="How many ratings carry a category.")
class CategoryCount:
    category: FeedbackCategoryType
    count: int


@strawberry.type(description="Feedback on a workspace's messages over a period.")
class FeedbackSummary:
    total_count: int
    thumbs_up: int
    thumbs_down: int
    average_stars: Decimal | None = strawberry.field(
        description="Mean of STARS ratings, rounded to two places; null without any."
    )
    by_rating_type: list[RatingTypeSummary] = strawberry.field(
        description="Every rating type, in THUMBS, STARS, CUSTOM order."
    )
    by_category: list[CategoryCount] = strawberry.field(
        description="Every category in declaration order, zero counts included."
    )


@strawberry.input
class RateMessageInput:
    message_id: strawberry.ID
    rating_type: RatingTypeType
    value: Decimal
    scale_max: Decimal | None = strawberry.field(
        default=None, description="Required for CUSTOM (1 to 1000), forbidden otherwise."
    )
    category: FeedbackCategoryType | None = None
    comment: str | None = strawberry.field(default=None, description="Up to 5000 characters.")
    improvement_suggestion: str | None = strawberry.field(
        default=None, description="Up to 5000 characters."
    )
    is_public: bool = False
