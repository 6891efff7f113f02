"""Query limits: depth, aliases and tokens, read from the settings."""

from __future__ import annotations

from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter

from synapse_gql.config import Settings
from synapse_gql.gql.cost import cost_limiter


def limit_extensions(settings: Settings) -> list:
    """Extension factories; built per request as Strawberry recommends."""
    return [
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxAliasesLimiter(max_alias_count=settings.max_aliases),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        cost_limiter(settings.max_query_cost, settings.default_page_size),
    ]
