"""Mutations of rate limits: an API token's own limits."""

from __future__ import annotations

from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.operations.token_limits import TokenLimits, set_token_limits
from synapse_gql.operations.types import ApiTokenRateLimitType, SetApiTokenRateLimitInput

SetApiTokenRateLimitResult = Annotated[
    ApiTokenRateLimitType | UserError, strawberry.union("SetApiTokenRateLimitResult")
]


@strawberry.type
class OperationsMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Set an API token's limits per minute: its owner at or below the"
        " defaults, platform administrators any value. Null restores the default.",
    )
    async def set_api_token_rate_limit(
        self, info: Info, input: SetApiTokenRateLimitInput
    ) -> SetApiTokenRateLimitResult:
        viewer = info.context.require_viewer()
        token_id = decode_id(input.token_id, "ApiToken", field=["input", "tokenId"])
        limits = TokenLimits(input.points_per_minute, input.model_calls_per_minute)
        settings = info.context.settings
        async with info.context.state.db.transaction() as session:
            row = await set_token_limits(session, settings, viewer.user, token_id, limits)
            result = ApiTokenRateLimitType.from_row(row, settings)
        info.context.state.operations.rate_limits.tokens.forget(token_id)
        return result
