"""Helpers the SDK adapters share: transport errors, retry hints, error classification,
estimated usage."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import httpx

from synapse_gql.llm.tokens import count_tokens
from synapse_gql.llm.types import (
    ChatMessage,
    PartialUsage,
    ProviderError,
    ProviderErrorCode,
    Usage,
)

# Phrases hosts use for a prompt that does not fit the model's context window.
CONTEXT_PHRASES = (
    "context_length_exceeded",
    "maximum context length",
    "context window",
    "prompt is too long",
    "input is too long",
    "too many tokens",
)
CONTENT_FILTER_PHRASES = ("content_filter", "content_policy_violation", "content management policy")

# Placeholder key for OpenAI-compatible hosts that need none (Ollama, vLLM): never let the
# SDK fall back to OPENAI_API_KEY and send OpenAI's key to another host.
NO_KEY = "no-key"


def _transport_error_types() -> tuple[type[BaseException], ...]:
    """The HTTP libraries' own errors, which can escape an SDK while a stream is read."""
    types: list[type[BaseException]] = [httpx.TransportError, httpx.DecodingError]
    try:
        import httpx2
    except ImportError:
        return tuple(types)
    return (*types, httpx2.TransportError, httpx2.DecodingError)


TRANSPORT_ERRORS = _transport_error_types()


def transport_error(exc: BaseException) -> ProviderError:
    """A connection that failed or broke mid-reply."""
    timed_out = "timeout" in type(exc).__name__.lower()
    code = ProviderErrorCode.TIMEOUT if timed_out else ProviderErrorCode.UNAVAILABLE
    return ProviderError(code, f"connection to the provider failed: {exc!r}", retryable=True)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the host asks to wait (``retry-after-ms`` or ``retry-after`` in seconds)."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if seconds >= 0:
            return seconds
    return None


def contains_any(text: str, phrases: Sequence[str]) -> bool:
    """Whether ``text`` (lower-cased) contains one of ``phrases``."""
    lowered = text.lower()
    return any(phrase in lowered for phrase in phrases)


def classify_status(status: int, text: str, *, retry_after_s: float | None = None) -> ProviderError:
    """Map an HTTP error status and its message text to a ``ProviderError``."""

    def err(code: ProviderErrorCode, retryable: bool = False) -> ProviderError:
        return ProviderError(
            code, text, retryable=retryable, status=status, retry_after=retry_after_s
        )

    if status in (401, 403):
        return err(ProviderErrorCode.AUTH)
    if status == 429:
        # An exhausted quota or spend limit will not clear by waiting a few seconds.
        return err(ProviderErrorCode.RATE_LIMIT, not contains_any(text, ("insufficient_quota",)))
    if 400 <= status < 500 and contains_any(text, CONTEXT_PHRASES):
        return err(ProviderErrorCode.CONTEXT_TOO_LONG)
    if 400 <= status < 500 and contains_any(text, CONTENT_FILTER_PHRASES):
        return err(ProviderErrorCode.CONTENT_FILTERED)
    if status == 408:
        return err(ProviderErrorCode.TIMEOUT, True)
    if status >= 500:
        return err(ProviderErrorCode.UNAVAILABLE, True)
    return err(ProviderErrorCode.BAD_REQUEST)


def estimated_usage(
    model: str, provider: str, messages: Sequence[ChatMessage], output: str
) -> Usage:
    """Usage for a host that did not report any."""
    return completed_usage(PartialUsage(), model, provider, messages, output)


def completed_usage(
    reported: PartialUsage,
    model: str,
    provider: str,
    messages: Sequence[ChatMessage],
    output: str,
) -> Usage:
    """The host's reported counts, with only the missing ones counted locally (the prompt
    for the input, ``output`` for the output) and flagged estimated."""
    input_tokens = output_tokens = 0
    if reported.input_tokens is None:
        input_tokens, _ = count_tokens(model, provider, messages)
    if reported.output_tokens is None and output:
        output_tokens, _ = count_tokens(model, provider, output)
    return reported.completed(input_tokens, output_tokens)


def premature_end(provider: str, usage: PartialUsage | None = None) -> ProviderError:
    """The stream closed cleanly but before the host said the reply was complete."""
    return ProviderError(
        ProviderErrorCode.UNAVAILABLE,
        f"the {provider} stream ended before the reply was complete",
        retryable=True,
        usage=None if usage is None or usage.empty else usage,
    )


def with_usage(error: ProviderError, usage: PartialUsage | None) -> ProviderError:
    """``error`` carrying the counts the host reported before it (unless it has its own)."""
    if error.usage is None and usage is not None and not usage.empty:
        error.usage = usage
    return error


def filtered(provider: str, usage: Usage | None) -> ProviderError:
    """The host stopped the reply with its content filter."""
    return ProviderError(
        ProviderErrorCode.CONTENT_FILTERED,
        f"the {provider} content filter stopped the reply",
        usage=usage,
    )
