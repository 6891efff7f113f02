"""Feedback rules: any member of a message's workspace, viewers included, rates it once;
rating again overwrites the rating in place."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.errors import InvalidInput, NotFound
from synapse_gql.feedback import repository
from synapse_gql.gql import validation
from synapse_gql.models import FeedbackCategory, MemberRole, MessageFeedback, RatingType
from synapse_gql.tags.repository import entity_workspace
from synapse_gql.workspaces.access import require_role

MAX_TEXT = 5000
MAX_SCALE = Decimal(1000)


@dataclass(frozen=True)
class Rating:
    """A rating as the caller sent it."""

    rating_type: RatingType
    value: Decimal
    scale_max: Decimal | None = None
    category: FeedbackCategory | None = None
    comment: str | None = None
    improvement_suggestion: str | None = None
    is_public: bool = False


def _number(value: Decimal, field: str) -> Decimal:
    path = ["input", field]
    if not value.is_finite():
        raise InvalidInput("Must be a finite number.", field=path)
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput("At most two decimal places.", field=path)
    return value


def _scale(rating: Rating) -> Decimal | None:
    if rating.rating_type is not RatingType.CUSTOM:
        if rating.scale_max is not None:
            raise InvalidInput("Only a CUSTOM rating takes a scale.", field=["input", "scaleMax"])
        return None
    if rating.scale_max is None:
        raise InvalidInput("A CUSTOM rating needs scaleMax.", field=["input", "scaleMax"])
    scale = _number(rating.scale_max, "scaleMax")
    if not 1 <= scale <= MAX_SCALE:
        raise InvalidInput(
            f"scaleMax must be between 1 and {MAX_SCALE}.", field=["input", "scaleMax"]
        )
    return scale


def _value(rating: Rating, scale: Decimal | None) -> Decimal:
    value = _number(rating.value, "value")
    if rating.rating_type is RatingType.THUMBS:
        allowed, rule = value in (0, 1), "0 (thumbs down) or 1 (thumbs up)"
    elif rating.rating_type is RatingType.STARS:
        allowed, rule = value in (1, 2, 3, 4, 5), "a whole number of stars from 1 to 5"
    else:
        allowed, rule = scale is not None and 0 <= value <= scale, f"between 0 and {scale}"
    if not allowed:
        raise InvalidInput(f"The value must be {rule}.", field=["input", "value"])
    return value


def _optional_text(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    return validation.text(value, ["input", field], min_len=0, max_len=MAX_TEXT) or None


def checked_values(rating: Rating) -> dict[str, object]:
    """The columns of a valid rating; INVALID_INPUT names the first field at fault."""
    scale = _scale(rating)
    return {
        "rating_type": rating.rating_type,
        "value": _value(rating, scale),
        "scale_max": scale,
        "category": rating.category,
        "comment": _optional_text(rating.comment, "comment"),
        "improvement_suggestion": _optional_text(
            rating.improvement_suggestion, "improvementSuggestion"
        ),
        "is_public": rating.is_public,
    }


async def _readable_message(
    session: AsyncSession, actor_id: uuid.UUID, message_id: uuid.UUID, field: list[str]
) -> None:
    workspace_id = await entity_workspace(session, "message", message_id)
    if workspace_id is None:
        raise NotFound("No such message.", field=field)
    await require_role(
        session, workspace_id, actor_id, MemberRole.VIEWER, field=field, what="message"
    )


async def rate_message(
    session: AsyncSession, actor_id: uuid.UUID, message_id: uuid.UUID, rating: Rating
) -> MessageFeedback:
    """Record the actor's rating of a message, replacing their earlier one."""
    await _readable_message(session, actor_id, message_id, ["input", "messageId"])
    values = checked_values(rating)
    return await repository.upsert(session, message_id, actor_id, values)


async def delete_feedback(
    session: AsyncSession, actor_id: uuid.UUID, message_id: uuid.UUID
) -> uuid.UUID:
    """Delete the actor's own rating of a message; the deleted feedback's id."""
    await _readable_message(session, actor_id, message_id, ["messageId"])
    deleted = await repository.delete_own(session, message_id, actor_id)
    if deleted is None:
        raise NotFound("You have not rated this message.", field=["messageId"])
    return deleted
