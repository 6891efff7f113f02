"""Retries and deadlines around a provider call.

A retryable ``ProviderError`` is retried with exponential backoff and jitter, but only while
no text was yielded: once the first token is out, the reply cannot be restarted and the error
propagates. Usage reports pass through as they come; each retried attempt is announced with
an ``AttemptFailed`` carrying the counts its host reported, so the tokens it consumed are
metered too. The first-token timeout bounds the wait for the first event of each attempt; the
total timeout bounds the whole call, retries and backoff included.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing

from synapse_gql.llm.base import Provider, Timeouts
from synapse_gql.llm.support import premature_end, with_usage
from synapse_gql.llm.types import (
    AttemptFailed,
    ChatMessage,
    GenerationParams,
    ProviderError,
    ProviderErrorCode,
    StreamEnd,
    TokenDelta,
    UsageReport,
)

DEFAULT_TIMEOUTS = Timeouts()
Event = TokenDelta | StreamEnd | UsageReport


def backoff_delay(
    attempt: int, base_delay: float, max_delay: float, retry_after: float | None = None
) -> float:
    """Seconds to wait before attempt ``attempt + 1``: ``base * 2**(attempt-1)`` with equal
    jitter (half fixed, half random), at least the host's ``retry_after``, at most ``max_delay``.
    """
    delay = min(max_delay, base_delay * 2 ** (attempt - 1))
    jittered = delay / 2 + random.uniform(0, delay / 2)
    if retry_after is not None:
        jittered = max(jittered, retry_after)
    return min(jittered, max_delay)


def _timeout_error(first_token: bool, seconds: float) -> ProviderError:
    if first_token:
        return ProviderError(
            ProviderErrorCode.TIMEOUT, f"no first token within {seconds:g}s", retryable=True
        )
    return ProviderError(ProviderErrorCode.TIMEOUT, f"the call took over {seconds:g}s")


class _DeadlineExpired(Exception):
    """Our own deadline passed (as opposed to a ``TimeoutError`` raised by the provider)."""


class _Deadline:
    """One timer for a whole attempt (not one per token): interrupts the wait for the next
    event once the loop time ``until`` has passed, raising ``_DeadlineExpired``. A deadline
    passing while the caller is busy elsewhere interrupts nothing; the next wait raises."""

    def __init__(self, until: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.until = until
        self.expired = False
        self._waiting: asyncio.Task[object] | None = None
        self._timer = self.loop.call_at(until, self._expire)

    def move(self, until: float) -> None:
        """Expire at ``until`` instead (once the first token is in: the total deadline)."""
        if until != self.until and not self.expired:
            self._timer.cancel()
            self.until = until
            self._timer = self.loop.call_at(until, self._expire)

    def cancel(self) -> None:
        self._timer.cancel()

    def _expire(self) -> None:
        self.expired = True
        if self._waiting is not None:
            self._waiting.cancel()

    async def next_event(self, events: AsyncIterator[Event]) -> Event | None:
        """The next event, ``None`` at the end; ``_DeadlineExpired`` once the deadline passed."""
        if self.expired:
            raise _DeadlineExpired
        task = asyncio.current_task()
        self._waiting = task
        try:
            return await anext(events)
        except StopAsyncIteration:
            return None
        except asyncio.CancelledError:
            # Our own interruption, unless the task was also cancelled from outside.
            if self.expired and task is not None and task.uncancel() == 0:
                raise _DeadlineExpired from None
            raise
        finally:
            self._waiting = None


async def _attempt(
    provider: Provider,
    messages: Sequence[ChatMessage],
    params: GenerationParams,
    api_key: str | None,
    timeouts: Timeouts,
    deadline: float,
) -> AsyncGenerator[Event, None]:
    """One attempt, with the first-token and total deadlines applied to each wait."""
    loop = asyncio.get_running_loop()
    first_until = min(deadline, loop.time() + timeouts.first_token)
    waits = _Deadline(first_until)
    try:
        async with aclosing(provider.stream(messages, params, api_key=api_key)) as events:
            while True:
                try:
                    event = await waits.next_event(events)
                except _DeadlineExpired as exc:
                    first = waits.until == first_until and first_until < deadline
                    seconds = timeouts.first_token if first else timeouts.total
                    raise _timeout_error(first, seconds) from exc
                if event is None:
                    raise premature_end(provider.name)
                yield event
                if isinstance(event, StreamEnd):
                    return
                if isinstance(event, TokenDelta):
                    waits.move(deadline)
    finally:
        waits.cancel()


async def stream_with_retries(
    provider: Provider,
    messages: Sequence[ChatMessage],
    params: GenerationParams,
    api_key: str | None,
    *,
    attempts: int = 3,
    base_delay: float = 0.5,
    max_delay: float = 20.0,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> AsyncGenerator[Event | AttemptFailed, None]:
    """Yield the events of ``provider.stream``, retrying retryable errors before the first
    text (each retried attempt announced by an ``AttemptFailed``). Ends with exactly one
    ``StreamEnd`` or raises ``ProviderError``, carrying the counts reported before it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeouts.total
    for attempt in range(1, max(attempts, 1) + 1):
        answered = False
        reported: UsageReport | None = None
        try:
            async with aclosing(
                _attempt(provider, messages, params, api_key, timeouts, deadline)
            ) as events:
                async for event in events:
                    if isinstance(event, UsageReport):
                        reported = event
                    else:
                        answered = True
                    yield event
            return
        except ProviderError as exc:
            with_usage(exc, None if reported is None else reported.usage)
            if answered or not exc.retryable or attempt >= attempts:
                raise
            delay = backoff_delay(attempt, base_delay, max_delay, exc.retry_after)
            if loop.time() + delay >= deadline:
                raise
            yield AttemptFailed(attempt, exc)
            await asyncio.sleep(delay)


async def complete_with_retries(
    provider: Provider,
    messages: Sequence[ChatMessage],
    params: GenerationParams,
    api_key: str | None,
    *,
    attempts: int = 3,
    base_delay: float = 0.5,
    max_delay: float = 20.0,
    timeouts: Timeouts = DEFAULT_TIMEOUTS,
) -> tuple[str, StreamEnd]:
    """``provider.complete`` with the same retry policy, under the total timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeouts.total
    attempt = 1
    while True:
        timeout = asyncio.timeout_at(deadline)
        try:
            async with timeout:
                return await provider.complete(messages, params, api_key=api_key)
        except TimeoutError as exc:
            if not timeout.expired():
                raise
            raise _timeout_error(False, timeouts.total) from exc
        except ProviderError as exc:
            if not exc.retryable or attempt >= attempts:
                raise
            delay = backoff_delay(attempt, base_delay, max_delay, exc.retry_after)
            if loop.time() + delay >= deadline:
                raise
            await asyncio.sleep(delay)
        attempt += 1
