"""Build the providers the platform serves, by provider name."""

from __future__ import annotations

from collections.abc import Mapping

from synapse_gql.llm.anthropic_provider import AnthropicProvider
from synapse_gql.llm.base import Provider, Timeouts
from synapse_gql.llm.mock_provider import MOCK_PROVIDER, MockProvider, MockSettings
from synapse_gql.llm.openai_provider import (
    DEFAULT_BASE_URLS,
    OpenAICompatibleProvider,
    OpenAIProvider,
)

ANTHROPIC_PROVIDER = "anthropic"
OPENAI_PROVIDER = "openai"


def build_providers(
    base_urls: Mapping[str, str | None],
    timeouts: Timeouts,
    mock: MockSettings | None,
) -> dict[str, Provider]:
    """Every provider by name: OpenAI, Anthropic, each OpenAI-compatible host of
    ``DEFAULT_BASE_URLS`` and of ``base_urls`` (which overrides the defaults; a compatible host
    mapped to an empty URL is left out), and the mock when ``mock.enabled``."""
    urls = {**DEFAULT_BASE_URLS, **base_urls}
    providers: dict[str, Provider] = {
        OPENAI_PROVIDER: OpenAIProvider(urls.pop(OPENAI_PROVIDER, None) or None, timeouts),
        ANTHROPIC_PROVIDER: AnthropicProvider(urls.pop(ANTHROPIC_PROVIDER, None) or None, timeouts),
    }
    urls.pop(MOCK_PROVIDER, None)
    for name, url in urls.items():
        if url:
            providers[name] = OpenAICompatibleProvider(name, url, timeouts)
    if mock is not None and mock.enabled:
        providers[MOCK_PROVIDER] = MockProvider(mock)
    return providers


async def close_providers(providers: Mapping[str, Provider]) -> None:
    """Close every provider's connections (at shutdown)."""
    for provider in providers.values():
        await provider.aclose()
