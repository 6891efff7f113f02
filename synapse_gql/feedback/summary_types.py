"""GraphQL types of the grouped feedback report (``Query.feedbackSummary``); the per
workspace counts of ``Workspace.feedbackSummary`` are ``FeedbackSummary`` in types.py."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.feedback.types import FeedbackCategoryType, RatingTypeType
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.refs import AgentRef
from synapse_gql.gql.relay import to_global_id
from synapse_gql.models import FeedbackCategory, RatingType

if TYPE_CHECKING:
    from synapse_gql.catalog.types import LLMType

LLMRef = Annotated["LLMType", strawberry.lazy("synapse_gql.catalog.types")]

SCORE_NOTE = (
    "Scores are normalised to 0..1: thumbs 0 or 1, stars (value - 1) / 4, custom"
    " value / scaleMax. A rating is positive when its score is above 0.5 (thumbs up,"
    " 4 or 5 stars, a custom value above half its scale)."
)


@strawberry.enum(name="FeedbackGroupBy", description="A dimension feedback is split by.")
class FeedbackGroupBy(enum.Enum):
    MODEL = "model"
    AGENT = "agent"
    CATEGORY = "category"
    RATING_TYPE = "rating_type"


@dataclass(frozen=True)
class FeedbackFigures:
    """A group's key (None where not grouped or absent) and its sums."""

    llm_id: uuid.UUID | None
    agent_id: uuid.UUID | None
    category: FeedbackCategory | None
    rating_type: RatingType | None
    count: int
    score_sum: float
    positive: int


@strawberry.type(description=f"Ratings of one group (or of the whole range). {SCORE_NOTE}")
class FeedbackGroup:
    figures: strawberry.Private[FeedbackFigures]

    @strawberry.field(description="The model that wrote the rated answers (MODEL).")
    def llm_id(self) -> strawberry.ID | None:
        llm = self.figures.llm_id
        return None if llm is None else strawberry.ID(to_global_id("LLM", llm))

    @strawberry.field(description="The model that wrote the rated answers (MODEL).")
    async def llm(self, info: Info) -> LLMRef | None:
        from synapse_gql.catalog.types import load_llm

        return await load_llm(info, self.figures.llm_id)

    @strawberry.field(description="The agent of the rated conversation (AGENT).")
    def agent_id(self) -> strawberry.ID | None:
        agent = self.figures.agent_id
        return None if agent is None else strawberry.ID(to_global_id("Agent", agent))

    @strawberry.field(description="The agent of the rated conversation (AGENT).")
    async def agent(self, info: Info) -> AgentRef | None:
        from synapse_gql.agents.types import load_agent

        return await load_agent(info, self.figures.agent_id)

    @strawberry.field(description="The ratings' category (CATEGORY); null: none given.")
    def category(self) -> FeedbackCategoryType | None:
        return self.figures.category

    @strawberry.field(description="The ratings' type (RATING_TYPE).")
    def rating_type(self) -> RatingTypeType | None:
        return self.figures.rating_type

    @strawberry.field(description="Ratings in the group.")
    def count(self) -> int:
        return self.figures.count

    @strawberry.field(description="Mean normalised score, 0..1; null without ratings.")
    def mean_score(self) -> float | None:
        figures = self.figures
        return None if figures.count == 0 else figures.score_sum / figures.count

    @strawberry.field(description="Share of positive ratings, 0..1; null without ratings.")
    def positive_share(self) -> float | None:
        figures = self.figures
        return None if figures.count == 0 else figures.positive / figures.count


@strawberry.type(description="Feedback rated in a range, split by the `groupBy` dimensions.")
class FeedbackBreakdown:
    from_: datetime = strawberry.field(name="from", description="Start (inclusive).")
    to: datetime = strawberry.field(description="End (exclusive).")
    groups: list[FeedbackGroup] = strawberry.field(
        description="Largest groups first; empty groups omitted."
    )
    totals: FeedbackGroup = strawberry.field(description="The whole range, no dimension.")


FeedbackBreakdownResult = Annotated[
    FeedbackBreakdown | UserError, strawberry.union("FeedbackBreakdownResult")
]
