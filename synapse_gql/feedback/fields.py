"""The ``Message.feedback``, ``Message.viewerFeedback`` and ``Workspace.feedbackSummary``
fields, made here so the types that carry them import nothing of feedback's own types."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import FeedbackRef, FeedbackSummaryRef


def feedback_field() -> Any:
    """A ``feedback(first, after, last, before)`` connection of a message's ratings."""

    async def feedback(
        root: Any,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[FeedbackRef]:
        from synapse_gql.feedback.types import feedback_connection

        args = PageArgs(first, after, last, before)
        return await feedback_connection(info, root.db_id, args)

    return strawberry.field(resolver=feedback, description="Ratings and comments on this message.")


def viewer_feedback_field() -> Any:
    """``viewerFeedback`` of a message: the viewer's own rating, or null."""

    async def viewer_feedback(root: Any, info: Info) -> FeedbackRef | None:
        from synapse_gql.feedback.types import viewer_feedback as viewer_rating

        return await viewer_rating(info, root.db_id)

    return strawberry.field(
        resolver=viewer_feedback, description="Your own feedback on this message, if any."
    )


def feedback_summary_field() -> Any:
    """``feedbackSummary(since, until)`` of a workspace: ratings of its messages."""

    async def feedback_summary(
        root: Any, info: Info, since: datetime | None = None, until: datetime | None = None
    ) -> FeedbackSummaryRef:
        from synapse_gql.feedback.types import feedback_summary as summary_of

        return await summary_of(info, root.db_id, since, until)

    return strawberry.field(
        resolver=feedback_summary,
        description="Ratings of the workspace's messages made in [since, until).",
    )
