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
    """Token usage of one call. ``input_estimated`` / ``output_estimated`` say which counts
    were made locally because the host did not report them; the others are the host's.

    ``input_tokens`` is the uncached input only; tokens read from and written to the
    provider's prompt cache are counted apart, since they are priced apart.
    """

    input_tokens: int
    output_tokens: int
    input_estimated: bool = False
    output_estimated: bool = False
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def estimated(self) -> bool:
        """Whether any count was made locally."""
        return self.input_estimated or self.output_estimated


@dataclass(frozen=True, slots=True)
class PartialUsage:
    """The counts a host reported so far in a stream; ``None`` where it reported nothing yet
    (e.g. Anthropic's input from ``message_start`` before any ``message_delta``)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def empty(self) -> bool:
        """Whether the host reported nothing yet."""
        return self.input_tokens is None and self.output_tokens is None

    def completed(self, estimate_input: int, estimate_output: int) -> Usage:
        """Usage keeping every reported count, the missing ones replaced by the estimates
        given (and flagged estimated)."""
        return Usage(
            input_tokens=estimate_input if self.input_tokens is None else self.input_tokens,
            output_tokens=estimate_output if self.output_tokens is None else self.output_tokens,
            input_estimated=self.input_tokens is None,
            output_estimated=self.output_tokens is None,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
        )

    @classmethod
    def of(cls, usage: Usage) -> PartialUsage:
        """The reported part of ``usage`` (its estimated counts dropped)."""
        return cls(
            None if usage.input_estimated else usage.input_tokens,
            None if usage.output_estimated else usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
        )


@dataclass(frozen=True, slots=True)
class TokenDelta:
    """A piece of generated text, in order."""

    text: str


@dataclass(frozen=True, slots=True)
class StreamEnd:
    """The last event of a successful stream."""

    finish_reason: str | None
    usage: Usage | None


@dataclass(frozen=True, slots=True)
class UsageReport:
    """The counts the host reported so far, sent whenever they change: a stream stopped or
    broken before its end is metered with them (only the missing counts are estimated)."""

    usage: PartialUsage


@dataclass(frozen=True, slots=True)
class AttemptFailed:
    """An attempt that failed before its first text and is retried; ``error.usage`` holds
    what the host reported before it failed (tokens it consumed), if anything."""

    attempt: int
    error: ProviderError


StreamEvent = TokenDelta | StreamEnd | UsageReport


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
    ``usage`` holds what the host reported before failing (a filtered reply, a stream cut
    after ``message_start``): a full ``Usage`` or the ``PartialUsage`` seen so far.
    """

    def __init__(
        self,
        code: ProviderErrorCode,
        message: str,
        *,
        retryable: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        usage: Usage | PartialUsage | None = None,
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
