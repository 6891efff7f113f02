"""Provider-neutral value types of the LLM layer: messages, parameters, usage, stream events,
and the typed error every adapter raises."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One turn of a conversation."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """What to generate with: the provider's model id and the sampling settings.

    ``extra`` is merged into the request body as is (e.g. ``{"stop": ["\\n"]}``).
    """

    model: str
    max_tokens: int | None = None
    temperature: Decimal | float | None = None
    top_p: Decimal | float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Request fields the server sets itself, which free-form parameters (an agent's
# ``parameters``, merged into the request body) must not replace: the model (calls are
# metered at the catalog model's price), the conversation, streaming and its usage report,
# and the sampling values that are checked and may be overridden per request.
RESERVED_PARAMETERS = frozenset(
    {
        "model",
        "messages",
        "system",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
    }
)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage of one call; ``estimated`` when the host did not report it.

    ``input_tokens`` is the uncached input only; tokens read from and written to the
    provider's prompt cache are counted apart, since they are priced apart.
    """

    input_tokens: int
    output_tokens: int
    estimated: bool = False
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True, slots=True)
class TokenDelta:
    """A piece of generated text, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of a successful stream."""

    finish_reason: str | None
    usage: Usage | None


StreamEvent = TokenDelta | StreamEnd


class ProviderErrorCode(enum.Enum):
    """Why a provider call failed, independent of the provider."""

    AUTH = "AUTH"
    RATE_LIMIT = "RATE_LIMIT"
    CONTEXT_TOO_LONG = "CONTEXT_TOO_LONG"
    CONTENT_FILTERED = "CONTENT_FILTERED"
    UNAVAILABLE = "UNAVAILABLE"
    TIMEOUT = "TIMEOUT"
    BAD_REQUEST = "BAD_REQUEST"
    CANCELLED = "CANCELLED"


class ProviderError(Exception):
    """A failed provider call.

    ``retryable`` says whether the same request may succeed later; ``status`` is the HTTP
    status when the host answered; ``retry_after`` is the host's hint in seconds, if any;
    ``usage`` is set when the host reported usage before failing (e.g. a filtered reply).
    """

    def __init__(
        self,
        code: ProviderErrorCode,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.usage = usage

    def __repr__(self) -> str:
        return (
            f"ProviderError({self.code.name}, {self.message!r}, "
            f"retryable={self.retryable}, status={self.status})"
        )


def as_float(value: Decimal | float | None) -> float | None:
    """A sampling parameter as the float the wire formats want."""
    return None if value is None else float(value)
