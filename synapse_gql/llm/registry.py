"""Build the providers the platform serves, by provider name, from their registrations.

Importing the adapter modules below runs their registrations
(:mod:`~synapse_gql.llm.registration`); a new provider module is added to that import list.
"""

from __future__ import annotations

from collections.abc import Mapping

from synapse_gql.llm import anthropic_provider, openai_provider
from synapse_gql.llm.base import Provider, Timeouts
from synapse_gql.llm.mock_provider import MOCK_PROVIDER, MockProvider, MockSettings
from synapse_gql.llm.registration import registered

ADAPTER_MODULES = (openai_provider, anthropic_provider)

# Where each registered provider is reached by default (None: the SDK's default).
DEFAULT_BASE_URLS: dict[str, str | None] = {
    name: spec.base_url for name, spec in registered().items()
}


def build_providers(
    base_urls: Mapping[str, str | None],
    timeouts: Timeouts,
    mock: MockSettings | None,
) -> dict[str, Provider]:
    """Every registered provider by name, each at its URL in ``base_urls`` or else its
    default; every other name of ``base_urls`` as an OpenAI-compatible host (one mapped to
    an empty URL is left out); and the mock when ``mock.enabled``."""
    providers: dict[str, Provider] = {}
    for name, spec in registered().items():
        url = base_urls.get(name, spec.base_url)
        # A host that needs a URL and is given an empty one is turned off.
        if url or spec.base_url is None:
            providers[name] = spec.build(url or None, timeouts)
    for name, url in base_urls.items():
        if url and name not in providers and name != MOCK_PROVIDER:
            providers[name] = openai_provider.OpenAICompatibleProvider(name, url, timeouts)
    if mock is not None and mock.enabled:
        providers[MOCK_PROVIDER] = MockProvider(mock)
    return providers


async def close_providers(providers: Mapping[str, Provider]) -> None:
    """Close every provider's connections (at shutdown)."""
    for provider in providers.values():
        await provider.aclose()
