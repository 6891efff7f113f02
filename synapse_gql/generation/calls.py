"""One provider call, streamed and collected: text, usage, latency, time to first token, or
the error that ended it together with the tokens consumed until then.

Every count the host reported is kept (a stream stopped or cut keeps the input from
Anthropic's ``message_start`` and the output of its last ``message_delta``); only the
missing counts are estimated, and flagged so. Attempts retried before the first text are
kept too, each metered on its own (zero tokens when the host refused it outright)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from synapse_gql.generation.failures import logged_message
from synapse_gql.llm import (
    ChatMessage,
    GenerationParams,
    Provider,
    ProviderError,
    ProviderErrorCode,
    Timeouts,
    TokenDelta,
    Usage,
    stream_with_retries,
)
from synapse_gql.llm.support import completed_usage
from synapse_gql.llm.types import AttemptFailed, PartialUsage, UsageReport
from synapse_gql.metering import AttemptRecord

CANCELLED = ProviderError(ProviderErrorCode.CANCELLED, "the request was cancelled")


@dataclass(frozen=True)
class EarlierAttempt:
    """A retried attempt of a call: what it consumed and why it failed."""

    attempt: int
    usage: Usage
    error: ProviderError


@dataclass
class CallOutcome:
    """How a call ended; ``error`` is None on success. Tokens are those consumed by the
    last attempt (number ``attempt``); ``earlier`` are the attempts retried before it."""

    text: str
    finish_reason: str | None
    usage: Usage
    latency_ms: int
    time_to_first_token_ms: int | None
    error: ProviderError | None = None
    attempt: int = 1
    earlier: list[EarlierAttempt] = field(default_factory=list)


def metered(outcome: CallOutcome) -> dict[str, Any]:
    """The usage fields of the ``CallRecord`` metering ``outcome``: the last attempt's
    counts and flags, and one ``AttemptRecord`` per retried attempt."""
    usage = outcome.usage
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_tokens": usage.cache_read_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "input_estimated": usage.input_estimated,
        "output_estimated": usage.output_estimated,
        "attempt": outcome.attempt,
        "earlier_attempts": [_attempt_record(earlier) for earlier in outcome.earlier],
    }


def _attempt_record(earlier: EarlierAttempt) -> AttemptRecord:
    usage = earlier.usage
    return AttemptRecord(
        attempt=earlier.attempt,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        input_estimated=usage.input_estimated,
        output_estimated=usage.output_estimated,
        error_code=earlier.error.code.value,
        error_message=logged_message(earlier.error),
    )


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


@dataclass
class CallRun:
    """Streams one call through ``stream_with_retries`` and keeps what arrived (text, the
    counts the host reported, retried attempts), so an interrupted call can still be
    metered exactly. ``on_token`` sees each piece as it arrives."""

    provider: Provider
    messages: Sequence[ChatMessage]
    params: GenerationParams
    api_key: str | None
    attempts: int
    timeouts: Timeouts
    on_token: Callable[[str], None] | None = None
    parts: list[str] = field(default_factory=list)
    started: float = 0.0
    first_token: float | None = None
    reported: PartialUsage | None = None
    attempt: int = 1
    earlier: list[EarlierAttempt] = field(default_factory=list)

    async def execute(self) -> CallOutcome:
        """Run the call; a ``ProviderError`` becomes the outcome's ``error``."""
        self.started = time.perf_counter()
        events = stream_with_retries(
            self.provider,
            self.messages,
            self.params,
            self.api_key,
            attempts=self.attempts,
            timeouts=self.timeouts,
        )
        try:
            async with aclosing(events) as stream:
                async for event in stream:
                    if isinstance(event, TokenDelta):
                        self._take(event.text)
                    elif isinstance(event, UsageReport):
                        self.reported = event.usage
                    elif isinstance(event, AttemptFailed):
                        self._retried(event)
                    else:
                        return self._outcome(event.finish_reason, event.usage)
        except ProviderError as exc:
            return self.failed(exc)
        return self.failed(ProviderError(ProviderErrorCode.UNAVAILABLE, "the reply never ended"))

    def _take(self, text: str) -> None:
        if self.first_token is None:
            self.first_token = time.perf_counter()
        self.parts.append(text)
        if self.on_token is not None:
            self.on_token(text)

    def _retried(self, event: AttemptFailed) -> None:
        """An attempt failed before any text and is retried: keep what it consumed."""
        usage = self._usage(event.error.usage or self.reported, "")
        self.earlier.append(EarlierAttempt(event.attempt, usage, event.error))
        self.reported = None
        self.attempt = event.attempt + 1

    def failed(self, error: ProviderError, text: str | None = None) -> CallOutcome:
        """The outcome of a call stopped by ``error``, charged for what it consumed: the
        counts the host reported, the missing ones estimated (from ``text``, the reply as
        it was delivered, by default all that arrived); nothing when the host reported
        nothing and no text arrived."""
        delivered = "".join(self.parts) if text is None else text
        usage = self._usage(error.usage or self.reported, delivered)
        outcome = self._outcome(None, usage)
        outcome.text = delivered
        outcome.error = error
        return outcome

    def _usage(
        self, reported: Usage | PartialUsage | None, text: str, *, always: bool = False
    ) -> Usage:
        """``reported`` completed with estimates; zero when nothing shows the host spent
        anything (no count, no text), unless ``always`` (a call that ended normally)."""
        if isinstance(reported, Usage):
            return reported
        if reported is None or reported.empty:
            if not text and not always:
                return Usage(0, 0)
            reported = PartialUsage()
        model, provider = self.params.model, self.provider.name
        return completed_usage(reported, model, provider, self.messages, text)

    def _outcome(self, finish_reason: str | None, usage: Usage | None) -> CallOutcome:
        ended = time.perf_counter()
        first = self.first_token
        text = "".join(self.parts)
        return CallOutcome(
            text=text,
            finish_reason=finish_reason,
            usage=usage or self._usage(PartialUsage(None, None), text, always=True),
            latency_ms=_ms(ended - self.started),
            time_to_first_token_ms=None if first is None else _ms(first - self.started),
            attempt=self.attempt,
            earlier=list(self.earlier),
        )
