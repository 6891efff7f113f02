"""``feedbackSummary``: ratings of a workspace's messages over a range, grouped by model,
agent, category and rating type, with their count, mean normalised score and positive
share; one aggregate statement (the totals are added up from the groups)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import ColumnElement, Select, case, func, select

from synapse_gql.analytics.queries import require_usage_reader
from synapse_gql.analytics.ranges import Granularity, summary_range
from synapse_gql.context import Info
from synapse_gql.feedback.summary_types import (
    FeedbackBreakdown,
    FeedbackBreakdownResult,
    FeedbackFigures,
    FeedbackGroup,
    FeedbackGroupBy,
)
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import Conversation, Message, MessageFeedback, RatingType

POSITIVE_ABOVE = 0.5

GROUP_COLUMNS: dict[FeedbackGroupBy, Any] = {
    FeedbackGroupBy.MODEL: Message.llm_id,
    FeedbackGroupBy.AGENT: Conversation.agent_id,
    FeedbackGroupBy.CATEGORY: MessageFeedback.category,
    FeedbackGroupBy.RATING_TYPE: MessageFeedback.rating_type,
}
FIGURE_NAMES = {
    FeedbackGroupBy.MODEL: "llm_id",
    FeedbackGroupBy.AGENT: "agent_id",
    FeedbackGroupBy.CATEGORY: "category",
    FeedbackGroupBy.RATING_TYPE: "rating_type",
}


def normalised_score() -> ColumnElement[Any]:
    """SQL: a rating's score in 0..1 (thumbs as is, stars (v - 1) / 4, custom v / scale)."""
    value, kind = MessageFeedback.value, MessageFeedback.rating_type
    return case(
        (kind == RatingType.THUMBS, value),
        (kind == RatingType.STARS, (value - 1) / 4),
        else_=value / MessageFeedback.scale_max,
    )


def grouped_statement(
    workspace_id: uuid.UUID, start: datetime, end: datetime, group_by: Sequence[FeedbackGroupBy]
) -> Select[Any]:
    """Per group: the keys, the count, the sum of scores and the positive ratings."""
    keys = [GROUP_COLUMNS[g].label(FIGURE_NAMES[g]) for g in group_by]
    score = normalised_score()
    return (
        select(
            *keys,
            func.count().label("count"),
            func.sum(score).label("score_sum"),
            func.count().filter(score > POSITIVE_ABOVE).label("positive"),
        )
        .select_from(MessageFeedback)
        .join(Message, Message.id == MessageFeedback.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Conversation.workspace_id == workspace_id,
            MessageFeedback.created_at >= start,
            MessageFeedback.created_at < end,
        )
        .group_by(*keys)
        .order_by(func.count().desc(), *(k.asc().nulls_last() for k in keys))
    )


def _figures(row: Any, group_by: Sequence[FeedbackGroupBy]) -> FeedbackFigures:
    keys = {FIGURE_NAMES[g]: getattr(row, FIGURE_NAMES[g]) for g in group_by}
    return FeedbackFigures(
        llm_id=keys.get("llm_id"),
        agent_id=keys.get("agent_id"),
        category=keys.get("category"),
        rating_type=keys.get("rating_type"),
        count=row.count,
        score_sum=float(row.score_sum or 0),
        positive=row.positive,
    )


def _totals(groups: Sequence[FeedbackFigures]) -> FeedbackFigures:
    return FeedbackFigures(
        llm_id=None,
        agent_id=None,
        category=None,
        rating_type=None,
        count=sum(g.count for g in groups),
        score_sum=sum(g.score_sum for g in groups),
        positive=sum(g.positive for g in groups),
    )


async def feedback_breakdown(
    info: Info,
    workspace_id: uuid.UUID,
    start: datetime | None,
    end: datetime | None,
    group_by: Sequence[FeedbackGroupBy],
) -> FeedbackBreakdown:
    """The feedback of a workspace (the caller's right already checked) rated in
    ``[start, end)``: INVALID_INPUT when ``from`` is not before ``to`` or the range is
    longer than the usage summaries allow; ``to`` defaults to now, ``from`` 30 days before."""
    # Month buckets only borrow the usage summaries' range checks: none is too fine here.
    span = summary_range(start, end, Granularity.MONTH, path=())
    dimensions = list(dict.fromkeys(group_by))
    stmt = grouped_statement(workspace_id, span.start, span.end, dimensions)
    groups = [_figures(row, dimensions) for row in await info.context.loaders.fetch(stmt)]
    return FeedbackBreakdown(
        from_=span.start,
        to=span.end,
        groups=[FeedbackGroup(figures=g) for g in groups],
        totals=FeedbackGroup(figures=_totals(groups)),
    )


@strawberry.type
class FeedbackSummaryQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Ratings of a workspace's answers rated in [`from`, `to`) (members and"
        " above), grouped by `groupBy`: count, mean normalised score and positive share.",
    )
    async def feedback_summary(
        self,
        info: Info,
        workspace_id: strawberry.ID,
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Default: 30 days before `to`."),
        ] = None,
        to: Annotated[datetime | None, strawberry.argument(description="Default: now.")] = None,
        group_by: list[FeedbackGroupBy] | None = None,
    ) -> FeedbackBreakdownResult:
        workspace = decode_id(workspace_id, "Workspace", field="workspaceId")
        await require_usage_reader(info, workspace)
        return await feedback_breakdown(info, workspace, from_, to, group_by or [])
