"""Reads of message feedback for the other features: a message's ratings page, the
viewer's own rating and a workspace's rating totals, each batched across a request."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import select

from synapse_gql.feedback import repository
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.models import FeedbackCategory, MessageFeedback, RatingType

if TYPE_CHECKING:
    from synapse_gql.context import Info

NodeT = TypeVar("NodeT")
TypeTotals = dict[RatingType, tuple[int, int, int, Decimal | None]]
CategoryCounts = dict[FeedbackCategory, int]

FEEDBACK = ChildList(
    name="message_feedback",
    model=MessageFeedback,
    parent=MessageFeedback.message_id,
    key=SortKey(MessageFeedback.created_at, MessageFeedback.id),
)


class FeedbackLoader:
    """Ratings of the messages of a request (messages the caller was allowed to read)."""

    def __init__(self, info: Info) -> None:
        self.info = info
        self.loaders = info.context.loaders

    async def page(
        self,
        message_id: uuid.UUID,
        args: PageArgs,
        build: Callable[[MessageFeedback], NodeT],
    ) -> Connection[NodeT]:
        """A page of the message's ratings, newest first; ``build`` makes a node of a row."""
        return await child_connection(self.info, FEEDBACK, message_id, args, build)

    async def viewer_rating(self, message_id: uuid.UUID) -> MessageFeedback | None:
        """The caller's own rating of the message, None without one or without a viewer."""
        viewer = self.info.context.viewer
        if viewer is None:
            return None

        async def batch(ids: Sequence[uuid.UUID]) -> list[MessageFeedback | None]:
            stmt = select(MessageFeedback).where(
                MessageFeedback.user_id == viewer.id, MessageFeedback.message_id.in_(ids)
            )
            found = {row.message_id: row for row in await self.loaders.rows(stmt)}
            return [found.get(i) for i in ids]

        rating: MessageFeedback | None = await self.loaders.get("viewer_feedback", batch).load(
            message_id
        )
        return rating

    async def summary(
        self, workspace_id: uuid.UUID, since: datetime | None, until: datetime | None
    ) -> tuple[TypeTotals, CategoryCounts]:
        """Ratings of a workspace's messages made in ``[since, until)``: per rating type
        (count, thumbs up, thumbs down, mean value) and per category (count); two
        aggregate statements for every workspace of the request."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[tuple[TypeTotals, CategoryCounts]]:
            types: dict[uuid.UUID, TypeTotals] = defaultdict(dict)
            categories: dict[uuid.UUID, CategoryCounts] = defaultdict(dict)
            async with self.info.context.sessions() as session:
                totals = await session.execute(repository.totals_by_type(ids, since, until))
                for workspace, kind, count, up, down, average in totals.all():
                    types[workspace][kind] = (count, up, down, average)
                counted = await session.execute(repository.counts_by_category(ids, since, until))
                for workspace, category, count in counted.all():
                    categories[workspace][category] = count
            return [(types[i], categories[i]) for i in ids]

        loader = self.loaders.get(("feedback_summary", since, until), batch)
        found: tuple[TypeTotals, CategoryCounts] = await loader.load(workspace_id)
        return found
