"""GraphQL types of per-token rate limits."""

from __future__ import annotations

from datetime import datetime

import strawberry

from synapse_gql.config import Settings
from synapse_gql.gql.relay import to_global_id
from synapse_gql.models import ApiTokenRateLimit


@strawberry.input(description="Limits per minute of one API token; null restores the default.")
class SetApiTokenRateLimitInput:
    token_id: strawberry.ID
    points_per_minute: int | None = strawberry.field(
        default=None, description="Query cost points per minute."
    )
    model_calls_per_minute: int | None = strawberry.field(
        default=None, description="Calls of model-calling mutations per minute."
    )


@strawberry.type(name="ApiTokenRateLimit", description="The limits an API token runs under.")
class ApiTokenRateLimitType:
    api_token_id: strawberry.ID
    points_per_minute: int = strawberry.field(description="In force: the token's or the default.")
    model_calls_per_minute: int = strawberry.field(
        description="In force: the token's or the default."
    )
    updated_at: datetime

    @classmethod
    def from_row(cls, row: ApiTokenRateLimit, settings: Settings) -> ApiTokenRateLimitType:
        return cls(
            api_token_id=to_global_id("ApiToken", row.api_token_id),
            points_per_minute=row.points_per_minute or settings.rate_limit_api_token_points,
            model_calls_per_minute=row.model_calls_per_minute or settings.rate_limit_model_calls,
            updated_at=row.updated_at,
        )
