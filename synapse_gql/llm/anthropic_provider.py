"""The Anthropic adapter over the official ``anthropic`` SDK (Messages API)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

import anthropic

from synapse_gql.llm.base import Timeouts
from synapse_gql.llm.registration import provider
from synapse_gql.llm.support import (
    TRANSPORT_ERRORS,
    classify_status,
    completed_usage,
    filtered,
    premature_end,
    retry_after,
    transport_error,
    with_usage,
)
from synapse_gql.llm.types import (
    ChatMessage,
    GenerationParams,
    PartialUsage,
    ProviderError,
    ProviderErrorCode,
    StreamEnd,
    TokenDelta,
    Usage,
    UsageReport,
    as_float,
)

DEFAULT_MAX_TOKENS = 1024
REFUSAL_STOP = "refusal"

# The HTTP status each Anthropic error type stands for, for errors sent inside a stream.
_ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def map_anthropic_error(exc: anthropic.AnthropicError) -> ProviderError:
    """Translate an Anthropic SDK exception into a ``ProviderError``."""
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError(ProviderErrorCode.TIMEOUT, str(exc), retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        return ProviderError(ProviderErrorCode.UNAVAILABLE, str(exc), retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        if status < 400:
            status = _ERROR_TYPE_STATUS.get(exc.type or "", 500)
        text = f"{exc.type or ''} {exc.api_message or exc.message}"
        return classify_status(status, text, retry_after_s=retry_after(exc.response.headers))
    if isinstance(exc, anthropic.CredentialsError):
        return ProviderError(ProviderErrorCode.AUTH, str(exc))
    return ProviderError(ProviderErrorCode.BAD_REQUEST, str(exc))


def to_anthropic(messages: Sequence[ChatMessage]) -> tuple[str | None, list[dict[str, str]]]:
    """Split ``messages`` the Anthropic way: the system messages joined into the ``system``
    parameter, the rest with consecutive same-role turns merged (the API wants alternation)."""
    system = "\n\n".join(m.content for m in messages if m.role == "system" and m.content)
    turns: list[dict[str, str]] = []
    for message in messages:
        if message.role == "system":
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    if not turns:
        raise ProviderError(
            ProviderErrorCode.BAD_REQUEST, "Anthropic needs at least one user message"
        )
    return system or None, turns


CACHE_FIELDS = ("cache_read_input_tokens", "cache_creation_input_tokens")


def _input_counts(raw: Any, before: tuple[int, int, int] = (0, 0, 0)) -> tuple[int, int, int]:
    """(uncached input, cache read, cache write): Anthropic's ``input_tokens`` excludes the
    cache counts, which are priced apart. A count the event leaves out keeps ``before``."""
    fields = ("input_tokens", *CACHE_FIELDS)
    values = (getattr(raw, name, None) for name in fields)
    return tuple(  # type: ignore[return-value]
        old if value is None else int(value) for value, old in zip(values, before, strict=True)
    )


def _usage(counts: tuple[int, int, int], output_tokens: int) -> Usage:
    fresh, read, write = counts
    return Usage(
        input_tokens=fresh,
        output_tokens=output_tokens,
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


@dataclass
class _Collected:
    """What the raw stream events said so far."""

    parts: list[str] = field(default_factory=list)
    input_counts: tuple[int, int, int] | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    stopped: bool = False

    def take(self, event: Any) -> str | UsageReport | None:
        """Fold one raw event in; return its text, or the usage it reported, if any."""
        if event.type == "message_start":
            self.input_counts = _input_counts(event.message.usage)
            return UsageReport(self.reported())
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            self.parts.append(event.delta.text)
            return str(event.delta.text)
        if event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            self.output_tokens = event.usage.output_tokens
            if getattr(event.usage, "input_tokens", None) is not None:
                # The final, cumulative counts.
                self.input_counts = _input_counts(event.usage, self.input_counts or (0, 0, 0))
            return UsageReport(self.reported())
        if event.type == "message_stop":
            self.stopped = True
        return None

    @property
    def answered(self) -> bool:
        """Whether the host said the reply is complete (``message_delta`` with its stop
        reason): a connection lost before ``message_stop`` then loses nothing."""
        return self.stopped or self.stop_reason is not None

    def reported(self) -> PartialUsage:
        """The counts the host reported so far: input from ``message_start``, output from the
        last ``message_delta``."""
        fresh, read, write = self.input_counts or (None, 0, 0)
        return PartialUsage(fresh, self.output_tokens, read, write)

    def finish(self, provider: str, model: str, messages: Sequence[ChatMessage]) -> StreamEnd:
        """The ``StreamEnd`` of a complete stream, or the error of an incomplete one."""
        if not self.answered:
            raise premature_end(provider, self.reported())
        usage = completed_usage(self.reported(), model, provider, messages, "".join(self.parts))
        if self.stop_reason == REFUSAL_STOP:
            raise filtered(provider, usage)
        return StreamEnd(finish_reason=self.stop_reason, usage=usage)


class AnthropicProvider:
    """Claude models through the official SDK; ``base_url=None`` is the SDK's default."""

    def __init__(
        self,
        base_url: str | None = None,
        timeouts: Timeouts | None = None,
        *,
        name: str = "anthropic",
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.timeouts = timeouts or Timeouts()
        self._http: anthropic.DefaultAsyncHttpxClient | None = None

    def _client(self, api_key: str | None) -> anthropic.AsyncAnthropic:
        timeout = anthropic.Timeout(self.timeouts.total, connect=self.timeouts.connect)
        if self._http is None:
            self._http = anthropic.DefaultAsyncHttpxClient(timeout=timeout)
        try:
            client = anthropic.AsyncAnthropic(
                api_key=api_key,
                base_url=self.base_url,
                timeout=timeout,
                max_retries=0,
                http_client=self._http,
            )
        except anthropic.AnthropicError as exc:
            raise ProviderError(ProviderErrorCode.AUTH, str(exc)) from exc
        unauthenticated = client.api_key is None and client.auth_token is None
        if unauthenticated and getattr(client, "_token_cache", None) is None:
            raise ProviderError(ProviderErrorCode.AUTH, f"no API key for {self.name}")
        return client

    def _body(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        system, turns = to_anthropic(messages)
        body: dict[str, Any] = {
            "model": params.model,
            "max_tokens": params.max_tokens
            if params.max_tokens is not None
            else DEFAULT_MAX_TOKENS,
            "messages": turns,
        }
        if system is not None:
            body["system"] = system
        # Sampling settings travel in the body as extras: recent SDKs no longer declare them.
        extra: dict[str, Any] = {}
        if params.temperature is not None:
            extra["temperature"] = as_float(params.temperature)
        if params.top_p is not None:
            extra["top_p"] = as_float(params.top_p)
        extra.update(params.extra)
        if extra:
            body["extra_body"] = extra
        return body

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        api_key: str | None,
    ) -> AsyncGenerator[TokenDelta | StreamEnd | UsageReport, None]:
        """Stream the reply from the raw Messages events."""
        body = self._body(messages, params)
        client = self._client(api_key)
        collected = _Collected()
        try:
            events = await client.messages.create(**body, stream=True)
            async with events:
                async for event in events:
                    taken = collected.take(event)
                    if isinstance(taken, UsageReport):
                        yield taken
                    elif taken:
                        yield TokenDelta(taken)
        except anthropic.AnthropicError as exc:
            if not collected.answered:
                raise with_usage(map_anthropic_error(exc), collected.reported()) from exc
        except TRANSPORT_ERRORS as exc:
            if not collected.answered:
                raise with_usage(transport_error(exc), collected.reported()) from exc
        yield collected.finish(self.name, params.model, messages)

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        api_key: str | None,
    ) -> tuple[str, StreamEnd]:
        """Return the whole reply from one non-streaming request."""
        body = self._body(messages, params)
        client = self._client(api_key)
        try:
            message = await client.messages.create(**body)
        except anthropic.AnthropicError as exc:
            raise map_anthropic_error(exc) from exc
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from exc
        text = "".join(block.text for block in message.content if block.type == "text")
        usage = _usage(_input_counts(message.usage), int(message.usage.output_tokens or 0))
        if message.stop_reason == REFUSAL_STOP:
            raise filtered(self.name, usage)
        return text, StreamEnd(finish_reason=message.stop_reason, usage=usage)

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()


@provider("anthropic", key_variable="ANTHROPIC_API_KEY", settings_key="anthropic_api_key")
def _anthropic(base_url: str | None, timeouts: Timeouts) -> AnthropicProvider:
    return AnthropicProvider(base_url, timeouts)
