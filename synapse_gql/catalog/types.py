"""GraphQL types of the catalog."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry

from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import LLM
from synapse_gql.usage.fields import billing_events_field, usage_logs_field

if TYPE_CHECKING:
    pass


@strawberry.type(
    name="LLM", description="A model in the catalog, priced in USD per million tokens."
)
class LLMType(Node):
    usage_logs = usage_logs_field("llm")
    billing_events = billing_events_field("llm")
    db_id: strawberry.Private[uuid.UUID]
    provider: str
    model_id: str = strawberry.field(description="The model's name as its provider calls it.")
    display_name: str
    input_price_per_million: Decimal
    output_price_per_million: Decimal
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
            context_window=row.context_window,
            max_output_tokens=row.max_output_tokens,
            supports_streaming=row.supports_streaming,
            supports_vision=row.supports_vision,
            supports_tools=row.supports_tools,
            is_active=row.is_active,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


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
    input_price_per_million: Decimal
    output_price_per_million: Decimal
    context_window: int
    max_output_tokens: int
    supports_streaming: bool = True
    supports_vision: bool = False
    supports_tools: bool = False


@strawberry.input
class UpdateLLMInput:
    id: strawberry.ID
    display_name: str | None = strawberry.UNSET
    input_price_per_million: Decimal | None = strawberry.UNSET
    output_price_per_million: Decimal | None = strawberry.UNSET
    context_window: int | None = strawberry.UNSET
    max_output_tokens: int | None = strawberry.UNSET
    supports_streaming: bool | None = strawberry.UNSET
    supports_vision: bool | None = strawberry.UNSET
    supports_tools: bool | None = strawberry.UNSET
    is_active: bool | None = strawberry.UNSET
