"""A failed provider call as the caller sees it: a typed error saying what happened."""

from __future__ import annotations

from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.llm import ProviderError, ProviderErrorCode
from synapse_gql.models import ApiKeySource, UsageStatus

MODEL_PATH = ["input", "model"]
MAX_DETAIL = 300
MAX_LOGGED = 2000

_FAILURES: dict[ProviderErrorCode, tuple[ErrorCode, str]] = {
    ProviderErrorCode.AUTH: (
        ErrorCode.PROVIDER_AUTH,
        "{provider} rejected the API key from {source}.",
    ),
    ProviderErrorCode.RATE_LIMIT: (
        ErrorCode.PROVIDER_RATE_LIMITED,
        "{provider} is rate limiting the API key from {source}; try again later.",
    ),
    ProviderErrorCode.CONTEXT_TOO_LONG: (
        ErrorCode.CONTEXT_TOO_LONG,
        "The prompt does not fit the model's context window.",
    ),
    ProviderErrorCode.CONTENT_FILTERED: (
        ErrorCode.CONTENT_FILTERED,
        "{provider}'s content filter blocked the request or the reply.",
    ),
    ProviderErrorCode.UNAVAILABLE: (
        ErrorCode.PROVIDER_UNAVAILABLE,
        "{provider} is unavailable or broke off the reply; try again later.",
    ),
    ProviderErrorCode.TIMEOUT: (ErrorCode.PROVIDER_TIMEOUT, "{provider} did not answer in time."),
    ProviderErrorCode.BAD_REQUEST: (
        ErrorCode.PROVIDER_BAD_REQUEST,
        "{provider} rejected the request.",
    ),
    ProviderErrorCode.CANCELLED: (
        ErrorCode.PROVIDER_UNAVAILABLE,
        "The call to {provider} was cancelled.",
    ),
}

# Codes whose provider message helps the caller fix the request.
_WITH_DETAIL = {
    ProviderErrorCode.CONTEXT_TOO_LONG,
    ProviderErrorCode.BAD_REQUEST,
    ProviderErrorCode.TIMEOUT,
}


def key_origin(source: ApiKeySource, variable: str) -> str:
    """Where the key came from, in words."""
    if source is ApiKeySource.USER:
        return f"your variable {variable}"
    if source is ApiKeySource.WORKSPACE:
        return f"the workspace secret {variable}"
    if source is ApiKeySource.GLOBAL:
        return f"the server setting SYNAPSE_{variable}"
    return "no API key"


def provider_failure(
    error: ProviderError, provider: str, source: ApiKeySource, variable: str
) -> DomainError:
    """The ``DomainError`` the mutation answers with (path ['input', 'model'])."""
    code, template = _FAILURES[error.code]
    message = template.format(provider=provider, source=key_origin(source, variable))
    if error.code in _WITH_DETAIL and error.message:
        message = f"{message} ({error.message[:MAX_DETAIL]})"
    return DomainError(message, field=MODEL_PATH, code=code)


def usage_status(error: ProviderError | None) -> UsageStatus:
    """The usage log status of a call ending with ``error``."""
    if error is None:
        return UsageStatus.SUCCESS
    if error.code is ProviderErrorCode.CANCELLED:
        return UsageStatus.CANCELLED
    return UsageStatus.ERROR


def logged_message(error: ProviderError | None) -> str | None:
    """The provider's message as kept on the usage log."""
    return None if error is None else error.message[:MAX_LOGGED]
