"""The LLM provider layer: one interface over OpenAI, Anthropic, OpenAI-compatible hosts and
the built-in mock, with typed errors, retries, timeouts and token counting."""

from synapse_gql.llm.anthropic_provider import AnthropicProvider
from synapse_gql.llm.base import Provider, Timeouts
from synapse_gql.llm.mock_provider import MOCK_MODEL, MOCK_PROVIDER, MockProvider, MockSettings
from synapse_gql.llm.openai_provider import OpenAICompatibleProvider, OpenAIProvider
from synapse_gql.llm.registration import key_variable, register_provider, settings_key
from synapse_gql.llm.registry import DEFAULT_BASE_URLS, build_providers, close_providers
from synapse_gql.llm.retry import complete_with_retries, stream_with_retries
from synapse_gql.llm.tokens import count_tokens
from synapse_gql.llm.types import (
    RESERVED_PARAMETERS,
    ChatMessage,
    GenerationParams,
    ProviderError,
    ProviderErrorCode,
    StreamEnd,
    StreamEvent,
    TokenDelta,
    Usage,
)

__all__ = [
    "DEFAULT_BASE_URLS",
    "MOCK_MODEL",
    "MOCK_PROVIDER",
    "RESERVED_PARAMETERS",
    "AnthropicProvider",
    "ChatMessage",
    "GenerationParams",
    "MockProvider",
    "MockSettings",
    "OpenAICompatibleProvider",
    "OpenAIProvider",
    "Provider",
    "ProviderError",
    "ProviderErrorCode",
    "StreamEnd",
    "StreamEvent",
    "Timeouts",
    "TokenDelta",
    "Usage",
    "build_providers",
    "close_providers",
    "complete_with_retries",
    "count_tokens",
    "key_variable",
    "register_provider",
    "settings_key",
    "stream_with_retries",
]
