"""GraphQL types of the catalog."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import strawberry

from synapse_gql.analytics.fields import usage_summary_field
from synapse_gql.catalog.loaders import LLMLoader
from synapse_gql.context import Info
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import LLM
from synapse_gql.usage.fields import billing_events_field, usage_logs_field

if TYPE_CHECKING:
    pass


PRICE_NOTE = (
    " USD per million tokens, at most 10 decimal places; a price with more places, a"
    " negative one, NaN or Infinity is refused with INVALID_INPUT."
)
CACHE_READ_NOTE = (
    "Price of input tokens read from the provider's prompt cache; null: the model has no"
    " cache pricing and cached tokens are priced as input."
)
CACHE_WRITE_NOTE = (
    "Price of input tokens written to the provider's prompt cache; null: priced as input."
)


def _price_field(description: str, **default: object) -> Any:
    """A price field documented with its unit and scale; ``default`` as strawberry takes it."""
    return strawberry.field(description=description + PRICE_NOTE, **default)  # type: ignore[call-overload]


@strawberry.type(
    name="LLM", description="A model in the catalog, priced in USD per million tokens."
)
class LLMType(Node):
    usage_logs = usage_logs_field("llm")
    billing_events = billing_events_field("llm")
    usage_summary = usage_summary_field("llm")
    db_id: strawberry.Private[uuid.UUID]
    provider: str
    model_id: str = strawberry.field(description="The model's name as its provider calls it.")
    display_name: str
    input_price_per_million: Decimal = _price_field("Price of uncached input tokens.")
    output_price_per_million: Decimal = _price_field("Price of output tokens.")
    cache_read_price_per_million: Decimal | None = _price_field(CACHE_READ_NOTE)
    cache_write_price_per_million: Decimal | None = _price_field(CACHE_WRITE_NOTE)
    context_window: int
    max_output_tokens: int
    supports_streaming: bool
    supports_vision: bool
    supports_tools: bool
    is_active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: LLM) -> LLMType:
        return cls(
            id=to_global_id("LLM", row.id),
            db_id=row.id,
            provider=row.provider,
            model_id=row.model_id,
            display_name=row.display_name,
            input_price_per_million=row.input_price_per_million,
            output_price_per_million=row.output_price_per_million,
            cache_read_price_per_million=row.cache_read_price_per_million,
            cache_write_price_per_million=row.cache_write_price_per_million,
            context_window=row.context_window,
            max_output_tokens=row.max_output_tokens,
            supports_streaming=row.supports_streaming,
            supports_vision=row.supports_vision,
            supports_tools=row.supports_tools,
            is_active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


async def load_llm(info: Info, llm_id: uuid.UUID | None) -> LLMType | None:
    """A catalog model by database id (batched), None for None or a missing id."""
    row = await LLMLoader(info).one(llm_id)
    return None if row is None else LLMType.from_row(row)


@strawberry.type(description="A provider and how many active models it has in the catalog.")
class Provider:
    name: str
    active_model_count: int
    model_count: int


@strawberry.input
class CreateLLMInput:
    provider: str
    model_id: str
    display_name: str
    input_price_per_million: Decimal = _price_field("Price of uncached input tokens.")
    output_price_per_million: Decimal = _price_field("Price of output tokens.")
    context_window: int
    max_output_tokens: int
    cache_read_price_per_million: Decimal | None = _price_field(CACHE_READ_NOTE, default=None)
    cache_write_price_per_million: Decimal | None = _price_field(CACHE_WRITE_NOTE, default=None)
    supports_streaming: bool = True
    supports_vision: bool = False
    supports_tools: bool = False


@strawberry.input
class UpdateLLMInput:
    id: strawberry.ID
    display_name: str | None = strawberry.UNSET
    input_price_per_million: Decimal | None = _price_field(
        "Price of uncached input tokens.", default=strawberry.UNSET
    )
    output_price_per_million: Decimal | None = _price_field(
        "Price of output tokens.", default=strawberry.UNSET
    )
    cache_read_price_per_million: Decimal | None = _price_field(
        CACHE_READ_NOTE + " Null removes it.", default=strawberry.UNSET
    )
    cache_write_price_per_million: Decimal | None = _price_field(
        CACHE_WRITE_NOTE + " Null removes it.", default=strawberry.UNSET
    )
    context_window: int | None = strawberry.UNSET
    max_output_tokens: int | None = strawberry.UNSET
    supports_streaming: bool | None = strawberry.UNSET
    supports_vision: bool | None = strawberry.UNSET
    supports_tools: bool | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
