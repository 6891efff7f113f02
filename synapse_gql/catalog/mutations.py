"""Catalog administration: platform admins only."""

from __future__ import annotations

from typing import Annotated

import strawberry

from synapse_gql.catalog import service
from synapse_gql.catalog.types import CreateLLMInput, LLMType, UpdateLLMInput
from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import PLATFORM_ADMIN
from synapse_gql.gql.relay import decode_id

LLMResult = Annotated[LLMType | UserError, strawberry.union("LLMResult")]
UPDATABLE = (
    "display_name",
    "input_price_per_million",
    "output_price_per_million",
    "context_window",
    "max_output_tokens",
    "supports_streaming",
    "supports_vision",
    "supports_tools",
    "is_active",
)
# Null is a value for these: it removes the cache price.
NULLABLE = ("cache_read_price_per_million", "cache_write_price_per_million")


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(
        permission_classes=PLATFORM_ADMIN, description="Add a model to the catalog."
    )
    async def create_llm(self, info: Info, input: CreateLLMInput) -> LLMResult:
        values = strawberry.asdict(input)
        async with info.context.state.db.transaction() as session:
            row = await service.add_llm(session, values)
        return LLMType.from_row(row)

    @strawberry.mutation(
        permission_classes=PLATFORM_ADMIN, description="Change a model or its price."
    )
    async def update_llm(self, info: Info, input: UpdateLLMInput) -> LLMResult:
        llm_id = decode_id(input.id, "LLM", field=["input", "id"])
        changes = {
            k: getattr(input, k)
            for k in UPDATABLE
            if getattr(input, k) not in (strawberry.UNSET, None)
        }
        changes.update(
            {k: getattr(input, k) for k in NULLABLE if getattr(input, k) is not strawberry.UNSET}
        )
        async with info.context.state.db.transaction() as session:
            row = await service.update_llm(session, llm_id, changes)
        return LLMType.from_row(row)

    @strawberry.mutation(permission_classes=PLATFORM_ADMIN, description="Stop offering a model.")
    async def deactivate_llm(self, info: Info, id: strawberry.ID) -> LLMResult:
        llm_id = decode_id(id, "LLM")
        async with info.context.state.db.transaction() as session:
            row = await service.update_llm(session, llm_id, {"is_active": False})
        return LLMType.from_row(row)
