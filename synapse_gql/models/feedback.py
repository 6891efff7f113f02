"""Users' ratings of assistant messages."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, created_ts, str_enum, updated_ts, uuid_pk


class RatingType(enum.Enum):
    THUMBS = "thumbs"
    STARS = "stars"
    CUSTOM = "custom"


class FeedbackCategory(enum.Enum):
    HELPFUL = "helpful"
    ACCURATE = "accurate"
    CREATIVE = "creative"
    HARMFUL = "harmful"
    INACCURATE = "inaccurate"
    UNHELPFUL = "unhelpful"
    OTHER = "other"


class MessageFeedback(Base):
    """One user's rating of one message; ``is_public`` allows use in training datasets.

    Thumbs are 0 (down) or 1 (up), stars 1 to 5; a custom rating carries its ``scale_max``.
    """

    __tablename__ = "message_feedback"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id"),
        Index(None, "user_id"),
        CheckConstraint("value >= 0", name="value_non_negative"),
        CheckConstraint("scale_max > 0 AND value <= scale_max", name="value_within_scale"),
        CheckConstraint(
            "rating_type <> 'custom' OR scale_max IS NOT NULL", name="custom_has_scale"
        ),
    )

    id: Mapped[uuid_pk]
    message_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    rating_type: Mapped[RatingType] = mapped_column(str_enum(RatingType, "rating_type"))
    value: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    scale_max: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    category: Mapped[FeedbackCategory | None] = mapped_column(
        str_enum(FeedbackCategory, "feedback_category")
    )
    comment: Mapped[str | None] = mapped_column(Text)
    improvement_suggestion: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]
