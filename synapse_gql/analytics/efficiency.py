"""The LLM efficiency report: per model over a range, what it cost, how fast it was, how
often it failed and how its answers were rated; ranked by feedback score per dollar.

Ranking (``rank`` 1 first): models whose answers have feedback come first, by
``scorePerDollar`` = mean feedback score (0..1) / cost per 1,000 tokens, highest first
(a model that cost nothing ranks above them all, ordered by its score); models
without feedback follow, cheapest per 1,000 tokens first. Ties: more calls first.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, case, cast, func, select

from synapse_gql.analytics import histogram
from synapse_gql.analytics.ranges import Granularity, SummaryRange
from synapse_gql.analytics.summary import Bucket, Fetch, usage_summary
from synapse_gql.analytics.summary_sql import DimensionFilter, GroupBy, UsageScope
from synapse_gql.models import (
    Conversation,
    Message,
    MessageFeedback,
    MessageRole,
    RatingType,
    UsageStatus,
)

THOUSAND = Decimal(1000)


@dataclass
class ModelEfficiency:
    """One model's figures over the range (``totals``: every call; ``succeeded``: the
    successful calls, whose latency is generation time)."""

    llm_id: uuid.UUID
    totals: Bucket
    succeeded: Bucket
    feedback_score: Decimal | None = None
    feedback_count: int = 0
    rank: int = 0

    @property
    def cost_per_1k_tokens(self) -> Decimal | None:
        tokens = self.totals.tokens
        return None if tokens == 0 else self.totals.cost * THOUSAND / tokens

    @property
    def tokens_per_second(self) -> float | None:
        """Output tokens of successful calls per second of their latency."""
        seconds = self.succeeded.latency_ms_sum / 1000
        return None if seconds == 0 else self.succeeded.output_tokens / seconds

    def rate(self, count: int) -> float | None:
        return None if self.totals.calls == 0 else count / self.totals.calls

    @property
    def score_per_dollar(self) -> Decimal | None:
        price = self.cost_per_1k_tokens
        if self.feedback_score is None or price is None or price == 0:
            return None
        return self.feedback_score / price

    def percentile(self, which: str, q: float) -> int | None:
        return histogram.percentile(getattr(self.totals, which), q)


def _normalised_score() -> Any:
    """A rating on 0..1: thumbs 0/1, stars (v - 1) / 4, custom v / scale_max."""
    value = cast(MessageFeedback.value, Numeric)
    return case(
        (MessageFeedback.rating_type == RatingType.STARS, (value - 1) / 4),
        (MessageFeedback.rating_type == RatingType.CUSTOM, value / MessageFeedback.scale_max),
        else_=value,
    )


def feedback_statement(span: SummaryRange, workspace_id: uuid.UUID | None) -> Any:
    """Mean normalised score and count of the feedback on each model's answers (assistant
    messages written in the range)."""
    stmt = (
        select(Message.llm_id, func.avg(_normalised_score()), func.count())
        .join(MessageFeedback, MessageFeedback.message_id == Message.id)
        .where(
            Message.role == MessageRole.ASSISTANT,
            Message.llm_id.is_not(None),
            Message.created_at >= span.start,
            Message.created_at < span.end,
        )
        .group_by(Message.llm_id)
    )
    if workspace_id is not None:
        stmt = stmt.join(Conversation, Conversation.id == Message.conversation_id).where(
            Conversation.workspace_id == workspace_id
        )
    return stmt


def _by_model(buckets: Sequence[Bucket], span: SummaryRange) -> dict[uuid.UUID, ModelEfficiency]:
    models: dict[uuid.UUID, ModelEfficiency] = {}
    for bucket in buckets:
        llm_id = bucket.keys[GroupBy.MODEL]
        entry = models.get(llm_id)
        if entry is None:
            empty = (Bucket(span.start, span.end), Bucket(span.start, span.end))
            entry = models[llm_id] = ModelEfficiency(llm_id, *empty)
        entry.totals.absorb(bucket)
        if bucket.keys[GroupBy.STATUS] is UsageStatus.SUCCESS:
            entry.succeeded.absorb(bucket)
    return models


def _rank_key(model: ModelEfficiency) -> tuple[Any, ...]:
    if model.feedback_score is not None:
        price = model.cost_per_1k_tokens or Decimal(0)
        free = price == 0
        merit = model.feedback_score if free else model.feedback_score / price
        return (0, 0 if free else 1, -merit, -model.totals.calls, str(model.llm_id))
    unrated_price = model.cost_per_1k_tokens
    return (
        1,
        0,
        unrated_price if unrated_price is not None else Decimal("Infinity"),
        -model.totals.calls,
        str(model.llm_id),
    )


async def llm_efficiency(
    fetch: Fetch, span: SummaryRange, workspace_id: uuid.UUID | None
) -> list[ModelEfficiency]:
    """Every model used in ``span`` (in ``workspace_id``, or everywhere when None),
    ranked as the module says. Three statements."""
    monthly = SummaryRange(span.start, span.end, Granularity.MONTH)
    summary = await usage_summary(
        fetch,
        monthly,
        UsageScope(workspace_id=workspace_id),
        DimensionFilter(),
        [GroupBy.MODEL, GroupBy.STATUS],
    )
    models = _by_model(summary.buckets, monthly)
    for llm_id, score, count in map(tuple, await fetch(feedback_statement(span, workspace_id))):
        if llm_id in models:
            models[llm_id].feedback_score = Decimal(score)
            models[llm_id].feedback_count = count
    ranked = sorted(models.values(), key=_rank_key)
    for position, model in enumerate(ranked, start=1):
        model.rank = position
    return ranked
