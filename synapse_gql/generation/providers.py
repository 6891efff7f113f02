"""The LLM providers and the timeouts the server is configured with."""

from __future__ import annotations

from synapse_gql.config import Settings
from synapse_gql.llm import MockSettings, Provider, Timeouts, build_providers
from synapse_gql.observability.llm import observed


def llm_timeouts(settings: Settings) -> Timeouts:
    """Connect, first-token and total timeouts of every provider call."""
    return Timeouts(
        connect=settings.llm_connect_timeout,
        first_token=settings.llm_first_token_timeout,
        total=settings.llm_total_timeout,
    )


def build_llm_providers(settings: Settings) -> dict[str, Provider]:
    """Every provider the server offers, by name (the mock only when enabled), each call
    traced and counted (``observability.llm``)."""
    mock = MockSettings(
        tokens_per_second=settings.mock_tokens_per_second,
        enabled=settings.mock_provider_enabled,
    )
    return observed(build_providers(settings.provider_base_urls, llm_timeouts(settings), mock))
