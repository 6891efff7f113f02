"""GraphQL types of usage summaries. Other features' types are lazy references, so the
catalog, user and project types can carry a ``usageSummary`` field without import cycles."""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from synapse_gql.analytics import histogram
from synapse_gql.analytics.ranges import Granularity
from synapse_gql.analytics.summary import Bucket
from synapse_gql.analytics.summary_sql import GroupBy
from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.refs import AgentRef, ProjectRef, UserRef
from synapse_gql.gql.relay import to_global_id
from synapse_gql.gql.scalars import BigInt

if TYPE_CHECKING:
    from synapse_gql.catalog.types import LLMType
    from synapse_gql.usage.types import ApiKeySourceType, UsageStatusType

LLMRef = Annotated["LLMType", strawberry.lazy("synapse_gql.catalog.types")]
UsageStatusRef = Annotated["UsageStatusType", strawberry.lazy("synapse_gql.usage.types")]
ApiKeySourceRef = Annotated["ApiKeySourceType", strawberry.lazy("synapse_gql.usage.types")]

strawberry.enum(
    Granularity, name="UsageGranularity", description="Length of a summary's time buckets (UTC)."
)
GranularityType = Granularity
strawberry.enum(
    GroupBy, name="UsageGroupBy", description="A dimension a usage summary is split by."
)
GroupByType = GroupBy


@strawberry.input(description="Which usage a summary covers; empty lists accept everything.")
class UsageFilter:
    project_ids: list[strawberry.ID] | None = None
    user_ids: list[strawberry.ID] | None = None
    agent_ids: list[strawberry.ID] | None = None
    llm_ids: list[strawberry.ID] | None = None
    providers: list[str] | None = None
    api_token_ids: list[strawberry.ID] | None = None
    key_sources: list[ApiKeySourceRef] | None = None
    statuses: list[UsageStatusRef] | None = None
    from_: datetime | None = strawberry.field(
        name="from", default=None, description="Start (inclusive); default 30 days before `to`."
    )
    to: datetime | None = strawberry.field(default=None, description="End (exclusive); now.")


def _global(type_name: str, db_id: uuid.UUID | None) -> strawberry.ID | None:
    return None if db_id is None else to_global_id(type_name, db_id)


async def load_dimension(info: Info, model_name: str, module: str, db_id: uuid.UUID | None) -> Any:
    """The ``{model_name}Type`` of ``synapse_gql.{module}.types`` for a dimension's id,
    through the request's batched loader; None for None or a deleted row."""
    if db_id is None:
        return None
    from synapse_gql import models

    model = getattr(models, model_name)
    row = await info.context.loaders.by_id(model).load(db_id)
    if row is None:
        return None
    types = importlib.import_module(f"synapse_gql.{module}.types")
    return getattr(types, f"{model_name}Type").from_row(row)


QUANTILES = (0.5, 0.95)
NO_PERCENTILES: tuple[int | None, ...] = (None, None)
DIMENSION_FIELDS = (
    "llm_id",
    "provider",
    "user_id",
    "project_id",
    "agent_id",
    "api_token_id",
    "status",
    "key_source",
)
NO_DIMENSIONS: dict[str, Any] = dict.fromkeys(DIMENSION_FIELDS)


def _percentiles(hist: Sequence[int]) -> Sequence[int | None]:
    return histogram.percentiles(hist, QUANTILES)


def _dimensions(keys: dict[GroupBy, Any]) -> dict[str, Any]:
    """The dimension fields of a bucket's keys (those not grouped by are null)."""
    return {
        "llm_id": _global("LLM", keys.get(GroupBy.MODEL)),
        "provider": keys.get(GroupBy.PROVIDER),
        "user_id": _global("User", keys.get(GroupBy.USER)),
        "project_id": _global("Project", keys.get(GroupBy.PROJECT)),
        "agent_id": _global("Agent", keys.get(GroupBy.AGENT)),
        "api_token_id": _global("ApiToken", keys.get(GroupBy.API_TOKEN)),
        "status": keys.get(GroupBy.STATUS),
        "key_source": keys.get(GroupBy.KEY_SOURCE),
    }


@strawberry.type(
    description="Usage of one time bucket (and one value of each grouped dimension; the"
    " dimensions not grouped by are null). Percentiles come from log-spaced histograms:"
    " within 5 % of the exact nearest-rank value, null when no call reported the measure."
)
class UsageBucket:
    """Figures are plain values set by :meth:`of` (a summary can hold thousands of
    buckets: plain fields cost GraphQL far less than resolvers); only the objects of the
    grouped dimensions are resolved, through the request's loaders."""

    bucket: strawberry.Private[Bucket]
    start: datetime = strawberry.field(description="Start of the bucket, clipped to the range.")
    end: datetime = strawberry.field(
        description="End of the bucket (exclusive), clipped to the range."
    )
    llm_id: strawberry.ID | None = strawberry.field(description="The model (MODEL).")
    provider: str | None = strawberry.field(description="The provider (PROVIDER).")
    user_id: strawberry.ID | None = strawberry.field(
        description="Who made the calls (USER); null in a USER group: no user."
    )
    project_id: strawberry.ID | None = strawberry.field(description="The project (PROJECT).")
    agent_id: strawberry.ID | None = strawberry.field(
        description="The agent of the conversation (AGENT)."
    )
    api_token_id: strawberry.ID | None = strawberry.field(
        description="The API token the calls were made with (API_TOKEN)."
    )
    status: UsageStatusRef | None = strawberry.field(description="The calls' status (STATUS).")
    key_source: ApiKeySourceRef | None = strawberry.field(
        description="Whose API key paid (KEY_SOURCE)."
    )
    calls: BigInt = strawberry.field(description="LLM calls (every attempt, failed ones too).")
    errors: BigInt = strawberry.field(description="Calls that failed (status ERROR).")
    cancelled: BigInt = strawberry.field(
        description="Calls cancelled while generating (status CANCELLED)."
    )
    input_tokens: BigInt = strawberry.field(description="Uncached input tokens.")
    output_tokens: BigInt
    cache_read_tokens: BigInt = strawberry.field(
        description="Input tokens read from the provider's prompt cache."
    )
    cache_write_tokens: BigInt = strawberry.field(
        description="Input tokens written to the provider's prompt cache."
    )
    cached_tokens: BigInt = strawberry.field(description="Cache reads and writes together.")
    cost: Decimal = strawberry.field(description="USD charged, exact (sum of the calls' costs).")
    latency_p50: int | None = strawberry.field(
        description="Median latency of the calls that reported one, in ms."
    )
    latency_p95: int | None = strawberry.field(description="95th percentile latency, in ms.")
    ttft_p50: int | None = strawberry.field(description="Median time to the first token, in ms.")
    ttft_p95: int | None = strawberry.field(
        description="95th percentile time to the first token, in ms."
    )

    @classmethod
    def of(cls, bucket: Bucket) -> UsageBucket:
        """The GraphQL object of a summary bucket."""
        latency = _percentiles(bucket.latency) if bucket.latency_parts else NO_PERCENTILES
        ttft = _percentiles(bucket.ttft) if bucket.ttft_parts else NO_PERCENTILES
        return cls(
            bucket=bucket,
            start=bucket.start,
            end=bucket.end,
            **(_dimensions(bucket.keys) if bucket.keys else NO_DIMENSIONS),
            calls=BigInt(bucket.calls),
            errors=BigInt(bucket.errors),
            cancelled=BigInt(bucket.cancelled),
            input_tokens=BigInt(bucket.input_tokens),
            output_tokens=BigInt(bucket.output_tokens),
            cache_read_tokens=BigInt(bucket.cache_read_tokens),
            cache_write_tokens=BigInt(bucket.cache_write_tokens),
            cached_tokens=BigInt(bucket.cache_read_tokens + bucket.cache_write_tokens),
            cost=bucket.cost,
            latency_p50=latency[0],
            latency_p95=latency[1],
            ttft_p50=ttft[0],
            ttft_p95=ttft[1],
        )

    @strawberry.field(description="The model (MODEL).")
    async def llm(self, info: Info) -> LLMRef | None:
        return await load_dimension(info, "LLM", "catalog", self.bucket.keys.get(GroupBy.MODEL))

    @strawberry.field(description="Who made the calls (USER).")
    async def user(self, info: Info) -> UserRef | None:
        return await load_dimension(info, "User", "accounts", self.bucket.keys.get(GroupBy.USER))

    @strawberry.field(description="The project (PROJECT).")
    async def project(self, info: Info) -> ProjectRef | None:
        project = self.bucket.keys.get(GroupBy.PROJECT)
        return await load_dimension(info, "Project", "projects", project)

    @strawberry.field(description="The agent of the conversation (AGENT).")
    async def agent(self, info: Info) -> AgentRef | None:
        return await load_dimension(info, "Agent", "agents", self.bucket.keys.get(GroupBy.AGENT))


PERCENTILE_FIELDS = frozenset({"latencyP50", "latencyP95", "ttftP50", "ttftP95"})


@strawberry.type(description="Usage over a range: buckets of time and dimensions, and totals.")
class UsageSummary:
    buckets: list[UsageBucket] = strawberry.field(
        description="Ordered by start, then by the grouped dimensions; empty ones omitted."
    )
    totals: UsageBucket = strawberry.field(description="The whole range, no dimension.")


UsageSummaryResult = Annotated[UsageSummary | UserError, strawberry.union("UsageSummaryResult")]
