"""Feedback of a message, the viewer's own rating, the workspace summary, ``node``."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select

from synapse_gql.context import Info
from synapse_gql.errors import InvalidInput
from synapse_gql.feedback import repository
from synapse_gql.feedback.types import (
    CategoryCount,
    FeedbackSummary,
    FeedbackType,
    RatingTypeSummary,
)
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.relay import register_node
from synapse_gql.models import FeedbackCategory, MessageFeedback, RatingType
from synapse_gql.workspaces.access import viewer_role

FEEDBACK = ChildList(
    name="message_feedback",
    model=MessageFeedback,
    parent=MessageFeedback.message_id,
    key=SortKey(MessageFeedback.created_at, MessageFeedback.id),
)


async def feedback_connection(
    info: Info, message_id: uuid.UUID, args: PageArgs
) -> Connection[FeedbackType]:
    """Ratings of a message the caller may read, newest first (batched across messages)."""
    return await child_connection(info, FEEDBACK, message_id, args, FeedbackType.from_row)


async def viewer_feedback(info: Info, message_id: uuid.UUID) -> FeedbackType | None:
    """The caller's own rating of a message they may read; one query for all messages."""
    viewer = info.context.viewer
    if viewer is None:
        return None

    async def batch(ids: Sequence[uuid.UUID]) -> list[FeedbackType | None]:
        stmt = select(MessageFeedback).where(
            MessageFeedback.user_id == viewer.id, MessageFeedback.message_id.in_(ids)
        )
        found = {row.message_id: row for row in await info.context.loaders.rows(stmt)}
        return [None if i not in found else FeedbackType.from_row(found[i]) for i in ids]

    return await info.context.loaders.get("viewer_feedback", batch).load(message_id)


def _summary(
    types: dict[RatingType, tuple[int, int, int, Decimal | None]],
    categories: dict[FeedbackCategory, int],
) -> FeedbackSummary:
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

    async def batch(ids: Sequence[uuid.UUID]) -> list[FeedbackSummary]:
        types: dict[uuid.UUID, dict] = defaultdict(dict)
        categories: dict[uuid.UUID, dict] = defaultdict(dict)
        async with info.context.sessions() as session:
            totals = await session.execute(repository.totals_by_type(ids, since, until))
            for workspace, kind, count, up, down, average in totals.all():
                types[workspace][kind] = (count, up, down, average)
            counted = await session.execute(repository.counts_by_category(ids, since, until))
            for workspace, category, count in counted.all():
                categories[workspace][category] = count
        return [_summary(types[i], categories[i]) for i in ids]

    loader = info.context.loaders.get(("feedback_summary", since, until), batch)
    return await loader.load(workspace_id)


async def _feedback(info: Info, ids: Sequence[uuid.UUID]) -> list[FeedbackType | None]:
    async with info.context.sessions() as session:
        rows = (await session.execute(repository.with_workspace(ids))).all()
    roles = await asyncio.gather(*(viewer_role(info, workspace) for _, workspace in rows))
    found = {row.id: row for (row, _), role in zip(rows, roles, strict=True) if role is not None}
    return [None if i not in found else FeedbackType.from_row(found[i]) for i in ids]


register_node("MessageFeedback", _feedback)
