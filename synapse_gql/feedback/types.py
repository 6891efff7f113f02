"""GraphQL types of message feedback and the workspace feedback summary."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.context import Info
from synapse_gql.conversations.loaders import MessageLoader
from synapse_gql.errors import InvalidInput
from synapse_gql.feedback.loaders import CategoryCounts, FeedbackLoader, TypeTotals
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import MessageRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import FeedbackCategory, MessageFeedback, RatingType

strawberry.enum(
    RatingType, name="RatingType", description="THUMBS 0/1, STARS 1-5, CUSTOM 0-scaleMax."
)
RatingTypeType = RatingType
strawberry.enum(FeedbackCategory, name="FeedbackCategory")
FeedbackCategoryType = FeedbackCategory


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

        row = await MessageLoader(info).one(self.message_id)
        return None if row is None else MessageType.of_row(row)

    @strawberry.field(description="Who rated.")
    async def user(self, info: Info) -> UserType | None:
        return await load_user(info, self.user_id)


async def feedback_connection(
    info: Info, message_id: uuid.UUID, args: PageArgs
) -> Connection[FeedbackType]:
    """Ratings of a message the caller may read, newest first (batched across messages)."""
    return await FeedbackLoader(info).page(message_id, args, FeedbackType.from_row)


async def viewer_feedback(info: Info, message_id: uuid.UUID) -> FeedbackType | None:
    """The caller's own rating of a message they may read; one query for all messages."""
    row = await FeedbackLoader(info).viewer_rating(message_id)
    return None if row is None else FeedbackType.from_row(row)


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


def _summary(types: TypeTotals, categories: CategoryCounts) -> FeedbackSummary:
    thumbs = types.get(RatingType.THUMBS, (0, 0, 0, None))
    stars = types.get(RatingType.STARS, (0, 0, 0, None))
    return FeedbackSummary(
        total_count=sum(t[0] for t in types.values()),
        thumbs_up=thumbs[1],
        thumbs_down=thumbs[2],
        average_stars=stars[3],
        by_rating_type=[
            RatingTypeSummary(
                rating_type=kind,
                count=types.get(kind, (0,))[0],
                average_value=types.get(kind, (0, 0, 0, None))[3],
            )
            for kind in RatingType
        ],
        by_category=[
            CategoryCount(category=category, count=categories.get(category, 0))
            for category in FeedbackCategory
        ],
    )


async def feedback_summary(
    info: Info, workspace_id: uuid.UUID, since: datetime | None, until: datetime | None
) -> FeedbackSummary:
    """Feedback on the messages of a workspace the caller may read, rated in
    ``[since, until)``: two aggregate statements for all workspaces of the request."""
    if since is not None and until is not None and since > until:
        raise InvalidInput("`since` must not be after `until`.", field="until")
    types, categories = await FeedbackLoader(info).summary(workspace_id, since, until)
    return _summary(types, categories)


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
