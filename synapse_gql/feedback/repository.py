"""SQL for message feedback: the per-user upsert and the workspace aggregates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import Conversation, Message, MessageFeedback, RatingType

RATED_FIELDS = (
    "rating_type",
    "value",
    "scale_max",
    "category",
    "comment",
    "improvement_suggestion",
    "is_public",
)


async def upsert(
    session: AsyncSession, message_id: uuid.UUID, user_id: uuid.UUID, values: dict[str, Any]
) -> MessageFeedback:
    """Insert the user's rating of the message or overwrite it in place, in one statement:
    concurrent calls end with one row and no unique violation."""
    table = MessageFeedback.__table__
    stmt = insert(MessageFeedback).values(
        id=uuid.uuid4(), message_id=message_id, user_id=user_id, **values
    )
    changes = {name: stmt.excluded[name] for name in RATED_FIELDS}
    upsert = stmt.on_conflict_do_update(
        index_elements=[table.c.message_id, table.c.user_id],
        set_={**changes, "updated_at": func.now()},
    ).returning(MessageFeedback)
    result = await session.execute(upsert, execution_options={"populate_existing": True})
    return result.scalar_one()


async def delete_own(
    session: AsyncSession, message_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID | None:
    """Delete the user's rating of the message; its id, None when there was none."""
    stmt = (
        delete(MessageFeedback)
        .where(MessageFeedback.message_id == message_id, MessageFeedback.user_id == user_id)
        .returning(MessageFeedback.id)
    )
    return await session.scalar(stmt)


def with_workspace(ids: Sequence[uuid.UUID]) -> Select[MessageFeedback, uuid.UUID]:
    """Feedback rows by id with the workspace of their message's conversation."""
    return (
        select(MessageFeedback, Conversation.workspace_id)
        .join(Message, Message.id == MessageFeedback.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(MessageFeedback.id.in_(ids))
    )


def _scope(
    workspace_ids: Sequence[uuid.UUID], since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Conversation.workspace_id.in_(workspace_ids)]
    if since is not None:
        conditions.append(MessageFeedback.created_at >= since)
    if until is not None:
        conditions.append(MessageFeedback.created_at < until)
    return conditions


def _joined(*columns: Any) -> Select[Any]:
    return (
        select(Conversation.workspace_id, *columns)
        .select_from(MessageFeedback)
        .join(Message, Message.id == MessageFeedback.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
    )


def totals_by_type(
    workspace_ids: Sequence[uuid.UUID], since: datetime | None, until: datetime | None
) -> Select[Any]:
    """Per workspace and rating type: count, thumbs up, thumbs down, average value."""
    value = MessageFeedback.value
    kind = MessageFeedback.rating_type
    return (
        _joined(
            kind,
            func.count(),
            func.count().filter(and_(kind == RatingType.THUMBS, value == 1)),
            func.count().filter(and_(kind == RatingType.THUMBS, value == 0)),
            func.round(func.avg(value), 2),
        )
        .where(*_scope(workspace_ids, since, until))
        .group_by(Conversation.workspace_id, kind)
    )


def counts_by_category(
    workspace_ids: Sequence[uuid.UUID], since: datetime | None, until: datetime | None
) -> Select[Any]:
    """Per workspace and category: how many ratings carry it (uncategorised ones left out)."""
    return (
        _joined(MessageFeedback.category, func.count())
        .where(*_scope(workspace_ids, since, until), MessageFeedback.category.is_not(None))
        .group_by(Conversation.workspace_id, MessageFeedback.category)
    )
