"""GraphQL types of the LLM efficiency report."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from synapse_gql.analytics.efficiency import ModelEfficiency
from synapse_gql.analytics.types import LLMRef, load_dimension
from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.relay import to_global_id
from synapse_gql.gql.scalars import BigInt

MONEY = Decimal("1e-10")
SCORE = Decimal("1e-4")


def _round(value: Decimal | None, places: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(places)


@strawberry.type(description="One model's efficiency over the report's range.")
class LLMEfficiency:
    model: strawberry.Private[ModelEfficiency]

    @strawberry.field(description="1 = best answers per dollar (see the report's `ranking`).")
    def rank(self) -> int:
        return self.model.rank

    @strawberry.field
    def llm_id(self) -> strawberry.ID:
        return to_global_id("LLM", self.model.llm_id)

    @strawberry.field
    async def llm(self, info: Info) -> LLMRef | None:
        return await load_dimension(info, "LLM", "catalog", self.model.llm_id)

    @strawberry.field(description="LLM calls, every attempt.")
    def calls(self) -> BigInt:
        return BigInt(self.model.totals.calls)

    @strawberry.field(description="USD charged.")
    def cost(self) -> Decimal:
        return self.model.totals.cost

    @strawberry.field(description="Input, cache and output tokens together.")
    def tokens(self) -> BigInt:
        return BigInt(self.model.totals.tokens)

    @strawberry.field(description="USD per 1,000 tokens (all kinds), 10 decimal places.")
    def cost_per_1k_tokens(self) -> Decimal | None:
        return _round(self.model.cost_per_1k_tokens, MONEY)

    @strawberry.field(
        description="Output tokens per second of generation (the successful calls' latency)."
    )
    def tokens_per_second(self) -> float | None:
        return self.model.tokens_per_second

    @strawberry.field(description="Share of calls that failed (0..1).")
    def error_rate(self) -> float | None:
        return self.model.rate(self.model.totals.errors)

    @strawberry.field(description="Share of calls cancelled while generating (0..1).")
    def cancellation_rate(self) -> float | None:
        return self.model.rate(self.model.totals.cancelled)

    @strawberry.field(description="Median latency in ms (within 5 %).")
    def latency_p50(self) -> int | None:
        return self.model.percentile("latency", 0.5)

    @strawberry.field(description="95th percentile latency in ms (within 5 %).")
    def latency_p95(self) -> int | None:
        return self.model.percentile("latency", 0.95)

    @strawberry.field(description="Median time to first token in ms (within 5 %).")
    def ttft_p50(self) -> int | None:
        return self.model.percentile("ttft", 0.5)

    @strawberry.field(description="95th percentile time to first token in ms (within 5 %).")
    def ttft_p95(self) -> int | None:
        return self.model.percentile("ttft", 0.95)

    @strawberry.field(
        description="Mean feedback score of its answers in the range on 0..1 (thumbs 0 or 1,"
        " stars (value - 1) / 4, custom value / scaleMax); null without feedback."
    )
    def feedback_score(self) -> Decimal | None:
        return _round(self.model.feedback_score, SCORE)

    @strawberry.field(description="Ratings of its answers in the range.")
    def feedback_count(self) -> int:
        return self.model.feedback_count

    @strawberry.field(
        description="feedbackScore / costPer1kTokens; null without feedback or for a free model."
    )
    def score_per_dollar(self) -> Decimal | None:
        return _round(self.model.score_per_dollar, SCORE)


RANKING = (
    "Models with feedback first, by scorePerDollar (mean feedback score / USD per 1,000"
    " tokens), highest first; a model that cost nothing ranks above them all, by score."
    " Then models without feedback, cheapest per 1,000 tokens first. Ties: more calls first."
)


@strawberry.type(description="Per model over a range: cost, speed, failures and feedback.")
class LLMEfficiencyReport:
    start: datetime = strawberry.field(name="from")
    end: datetime = strawberry.field(name="to")
    models: list[LLMEfficiency] = strawberry.field(description="Ranked, best first.")
    ranking: str = strawberry.field(description="How the models are ranked.", default=RANKING)


LLMEfficiencyResult = Annotated[
    LLMEfficiencyReport | UserError, strawberry.union("LLMEfficiencyResult")
]
