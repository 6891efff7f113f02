"""One provider call, streamed and collected: text, usage, latency, time to first token, or
the error that ended it together with the tokens consumed until then."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from synapse_gql.llm import (
    ChatMessage,
    GenerationParams,
    Provider,
    ProviderError,
    ProviderErrorCode,
    Timeouts,
    TokenDelta,
    Usage,
    count_tokens,
    stream_with_retries,
)

CANCELLED = ProviderError(ProviderErrorCode.CANCELLED, "the request was cancelled")


@dataclass
class CallOutcome:
    """How a call ended; ``error`` is None on success. Tokens are those consumed."""

    text: str
    finish_reason: str | None
    usage: Usage
    latency_ms: int
    time_to_first_token_ms: int | None
    error: ProviderError | None = None


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


@dataclass
class CallRun:
    """Streams one call through ``stream_with_retries`` and keeps what arrived, so an
    interrupted call can still be metered. ``on_token`` sees each piece as it arrives."""

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
                    if not isinstance(event, TokenDelta):
                        return self._outcome(event.finish_reason, event.usage)
                    if self.first_token is None:
                        self.first_token = time.perf_counter()
                    self.parts.append(event.text)
                    if self.on_token is not None:
                        self.on_token(event.text)
        except ProviderError as exc:
            return self.failed(exc)
        return self.failed(ProviderError(ProviderErrorCode.UNAVAILABLE, "the reply never ended"))

    def failed(self, error: ProviderError) -> CallOutcome:
        """The outcome of a call stopped by ``error``, charged for what it consumed: the
        usage the host reported, else the estimated prompt and partial reply once any text
        arrived, else nothing."""
        usage = error.usage
        if usage is None and self.parts:
            usage = self._estimate()
        outcome = self._outcome(None, usage or Usage(0, 0))
        outcome.error = error
        return outcome

    def _estimate(self) -> Usage:
        model, provider = self.params.model, self.provider.name
        input_tokens, _ = count_tokens(model, provider, self.messages)
        output_tokens, _ = count_tokens(model, provider, "".join(self.parts))
        return Usage(input_tokens, output_tokens, estimated=True)

    def _outcome(self, finish_reason: str | None, usage: Usage | None) -> CallOutcome:
        ended = time.perf_counter()
        first = self.first_token
        return CallOutcome(
            text="".join(self.parts),
            finish_reason=finish_reason,
            usage=usage or self._estimate(),
            latency_ms=_ms(ended - self.started),
            time_to_first_token_ms=None if first is None else _ms(first - self.started),
        )
