"""GraphQL type of the usage log."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from strawberry.scalars import JSON

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.catalog.types import LLMType, load_llm
from synapse_gql.context import Info
from synapse_gql.errors import stored_error_code
from synapse_gql.gql.errors import ErrorCodeType
from synapse_gql.gql.refs import ConversationRef, MessageRef, ProjectRef, WorkspaceRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import ApiKeySource, UsageLog, UsageStatus
from synapse_gql.usage.loaders import UsageLogLoader

if TYPE_CHECKING:
    pass

strawberry.enum(UsageStatus, name="UsageStatus")
UsageStatusType = UsageStatus
strawberry.enum(
    ApiKeySource, name="ApiKeySource", description="Whose API key paid for an LLM call."
)
ApiKeySourceType = ApiKeySource


@strawberry.type(name="UsageLog", description="One LLM call, priced when it happened.")
class UsageLogType(Node):
    db_id: strawberry.Private[uuid.UUID]
    user_id: strawberry.Private[uuid.UUID | None]
    workspace_id: strawberry.Private[uuid.UUID]
    project_id: strawberry.Private[uuid.UUID | None]
    conversation_id: strawberry.Private[uuid.UUID | None]
    message_id: strawberry.Private[uuid.UUID | None]
    llm_id: strawberry.Private[uuid.UUID]
    provider: str
    model_id: str = strawberry.field(description="The model's id as it was called.")
    input_tokens: int = strawberry.field(
        description=(
            "Uncached input tokens only; tokens read from or written to the provider's"
            " prompt cache are in cacheReadTokens and cacheWriteTokens."
        )
    )
    output_tokens: int
    cache_read_tokens: int = strawberry.field(
        description="Input tokens read from the provider's prompt cache."
    )
    cache_write_tokens: int = strawberry.field(
        description="Input tokens written to the provider's prompt cache."
    )
    total_tokens: int = strawberry.field(
        description="Input, cache read, cache write and output tokens together."
    )
    tokens_estimated: bool = strawberry.field(
        description=(
            "True when a count the provider did not report was made locally"
            " (inputEstimated or outputEstimated)."
        )
    )
    input_estimated: bool = strawberry.field(
        description="True when the input count was made locally (the provider reported none)."
    )
    output_estimated: bool = strawberry.field(
        description="True when the output count was made locally (the provider reported none)."
    )
    attempt: int = strawberry.field(
        description=(
            "Which attempt of the call this is (1 first); a call retried after a refusal or"
            " a break before any text has a row per attempt, zero tokens when refused."
        )
    )
    input_price_per_million: Decimal
    output_price_per_million: Decimal
    cache_read_price_per_million: Decimal | None = strawberry.field(
        description="The cache-read price charged; null: cache reads were priced as input."
    )
    cache_write_price_per_million: Decimal | None = strawberry.field(
        description="The cache-write price charged; null: cache writes were priced as input."
    )
    cost: Decimal = strawberry.field(
        description=(
            "USD: each kind of token times the price of the period in force when the call"
            " was sent, rounded half up to 10 decimal places."
        )
    )
    latency_ms: int | None
    time_to_first_token_ms: int | None
    status: UsageStatusType
    error_code: ErrorCodeType | None = strawberry.field(
        description="Why the call failed or stopped; null when it succeeded."
    )
    error_message: str | None
    parameters: JSON
    api_key_source: ApiKeySourceType
    created_at: datetime

    @classmethod
    def from_row(cls, row: UsageLog) -> UsageLogType:
        return cls(
            id=to_global_id("UsageLog", row.id),
            db_id=row.id,
            user_id=row.user_id,
            workspace_id=row.workspace_id,
            project_id=row.project_id,
            conversation_id=row.conversation_id,
            message_id=row.message_id,
            llm_id=row.llm_id,
            provider=row.provider,
            model_id=row.model_id,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cache_read_tokens=row.cache_read_tokens,
            cache_write_tokens=row.cache_write_tokens,
            total_tokens=row.total_tokens,
            tokens_estimated=row.tokens_estimated,
            input_estimated=row.input_estimated,
            output_estimated=row.output_estimated,
            attempt=row.attempt,
            input_price_per_million=row.input_price_per_million,
            output_price_per_million=row.output_price_per_million,
            cache_read_price_per_million=row.cache_read_price_per_million,
            cache_write_price_per_million=row.cache_write_price_per_million,
            cost=row.cost,
            latency_ms=row.latency_ms,
            time_to_first_token_ms=row.time_to_first_token_ms,
            status=row.status,
            error_code=stored_error_code(row.error_code),
            error_message=row.error_message,
            parameters=JSON(row.parameters),
            api_key_source=row.api_key_source,
            created_at=row.created_at,
        )

    @strawberry.field(description="Who made the call.")
    async def user(self, info: Info) -> UserType | None:
        return await load_user(info, self.user_id)

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        from synapse_gql.workspaces.types import load_workspace

        return await load_workspace(info, self.workspace_id)

    @strawberry.field
    async def project(self, info: Info) -> ProjectRef | None:
        from synapse_gql.projects.types import load_project

        return await load_project(info, self.project_id)

    @strawberry.field
    async def conversation(self, info: Info) -> ConversationRef | None:
        from synapse_gql.conversations.types import load_conversation

        return await load_conversation(info, self.conversation_id)

    @strawberry.field(description="The assistant message the call wrote.")
    async def message(self, info: Info) -> MessageRef | None:
        from synapse_gql.conversations.types import load_message

        return await load_message(info, self.message_id)

    @strawberry.field(description="The catalog model called.")
    async def llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.llm_id)


async def load_usage_log(info: Info, usage_log_id: uuid.UUID | None) -> UsageLogType | None:
    """A usage log by database id (batched), None for None or a missing id."""
    row = await UsageLogLoader(info).one(usage_log_id)
    return None if row is None else UsageLogType.from_row(row)
