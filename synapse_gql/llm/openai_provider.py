"""The OpenAI adapter, which also serves every OpenAI-compatible host (Google, xAI, DeepSeek,
Llama hosts, Ollama, vLLM) under another base URL."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import openai

from synapse_gql.llm.base import Timeouts
from synapse_gql.llm.openai_wire import ClientCache, chunk_payloads
from synapse_gql.llm.registration import ProviderSpec, provider, register_provider
from synapse_gql.llm.support import (
    CONTENT_FILTER_PHRASES,
    CONTEXT_PHRASES,
    NO_KEY,
    TRANSPORT_ERRORS,
    classify_status,
    completed_usage,
    contains_any,
    estimated_usage,
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

CONTENT_FILTER_FINISH = "content_filter"

# The OpenAI-compatible hosts served out of the box (name, key variable, base URL); settings
# may override their URLs and add more (e.g. "ollama": "http://localhost:11434/v1").
COMPATIBLE_HOSTS = (
    ("google", "GOOGLE_API_KEY", "https://generativelanguage.googleapis.com/v1beta/openai/"),
    ("xai", "XAI_API_KEY", "https://api.x.ai/v1"),
    ("deepseek", "DEEPSEEK_API_KEY", "https://api.deepseek.com/v1"),
    ("meta", "META_API_KEY", "https://api.together.xyz/v1"),
)


def map_openai_error(exc: openai.OpenAIError) -> ProviderError:
    """Translate an OpenAI SDK exception into a ``ProviderError``."""
    if isinstance(exc, openai.APITimeoutError):
        return ProviderError(ProviderErrorCode.TIMEOUT, str(exc), retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError(ProviderErrorCode.UNAVAILABLE, str(exc), retryable=True)
    if isinstance(exc, openai.APIStatusError):
        text = f"{exc.code or ''} {exc.message}"
        return classify_status(
            exc.status_code, text, retry_after_s=retry_after(exc.response.headers)
        )
    if isinstance(exc, openai.APIError):
        return _stream_error(exc)
    return ProviderError(ProviderErrorCode.BAD_REQUEST, str(exc))


def _stream_error(exc: openai.APIError) -> ProviderError:
    """An error the host sent inside an already started (HTTP 200) stream."""
    text = f"{exc.code or ''} {exc.type or ''} {exc.message}"
    if contains_any(text, CONTENT_FILTER_PHRASES):
        return ProviderError(ProviderErrorCode.CONTENT_FILTERED, exc.message)
    if contains_any(text, CONTEXT_PHRASES):
        return ProviderError(ProviderErrorCode.CONTEXT_TOO_LONG, exc.message)
    if contains_any(text, ("rate_limit",)):
        return ProviderError(ProviderErrorCode.RATE_LIMIT, exc.message, retryable=True)
    return ProviderError(ProviderErrorCode.UNAVAILABLE, exc.message, retryable=True)


def _usage(raw: Any) -> Usage:
    """The host's usage (an SDK object or its JSON); ``prompt_tokens`` includes the cached
    input, which is kept apart."""
    if isinstance(raw, dict):
        details = raw.get("prompt_tokens_details") or {}
        prompt = int(raw.get("prompt_tokens") or 0)
        completion = int(raw.get("completion_tokens") or 0)
        cached_tokens = details.get("cached_tokens") if isinstance(details, dict) else None
    else:
        details = getattr(raw, "prompt_tokens_details", None)
        prompt = int(raw.prompt_tokens or 0)
        completion = int(raw.completion_tokens or 0)
        cached_tokens = getattr(details, "cached_tokens", None)
    cached = min(prompt, int(cached_tokens or 0))
    return Usage(input_tokens=prompt - cached, output_tokens=completion, cache_read_tokens=cached)


@dataclass
class _Collected:
    """What the stream's chunks said so far (the first choice only)."""

    parts: list[str] = field(default_factory=list)
    finish: str | None = None
    usage: Usage | None = None

    def take(self, chunk: dict[str, Any]) -> str | None:
        """Fold one chunk (its JSON) in; return its text, if it carries some."""
        usage = chunk.get("usage")
        if usage is not None:
            self.usage = _usage(usage)
        text: str | None = None
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            content = (choice.get("delta") or {}).get("content")
            if content:
                text = str(content)
                self.parts.append(text)
            self.finish = choice.get("finish_reason") or self.finish
        return text

    def reported(self) -> PartialUsage | None:
        """The host's usage chunk, if it arrived (OpenAI reports all counts at once)."""
        return None if self.usage is None else PartialUsage.of(self.usage)

    def finish_event(self, provider: str, model: str, messages: Sequence[ChatMessage]) -> StreamEnd:
        """The ``StreamEnd`` of a complete stream, or the error of an incomplete one. A
        ``finish_reason`` makes it complete even when the usage chunk or ``[DONE]`` was lost;
        the counts are then estimated."""
        if self.finish is None:
            raise premature_end(provider, self.reported())
        reported = self.reported() or PartialUsage()
        usage = completed_usage(reported, model, provider, messages, "".join(self.parts))
        if self.finish == CONTENT_FILTER_FINISH:
            raise filtered(provider, usage)
        return StreamEnd(finish_reason=self.finish, usage=usage)


class OpenAICompatibleProvider:
    """A chat-completions host reached with the official ``openai`` SDK.

    ``base_url=None`` is the SDK's default (api.openai.com). ``max_tokens_field`` is the body
    field for the output limit: OpenAI wants ``max_completion_tokens``, most compatible hosts
    ``max_tokens``.
    """

    def __init__(
        self,
        name: str,
        base_url: str | None,
        timeouts: Timeouts | None = None,
        *,
        max_tokens_field: str = "max_tokens",
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.timeouts = timeouts or Timeouts()
        self.max_tokens_field = max_tokens_field
        self._http: openai.DefaultAsyncHttpxClient | None = None
        self._clients = ClientCache(self._new_client)

    def _default_key(self) -> str | None:
        """The key used when the caller has none: a placeholder, never OpenAI's env key."""
        return NO_KEY

    def _client(self, api_key: str | None) -> openai.AsyncOpenAI:
        """The client of ``api_key`` (kept for the next calls with the same key)."""
        return self._clients.get(api_key if api_key is not None else self._default_key())

    def _new_client(self, api_key: str | None) -> openai.AsyncOpenAI:
        timeout = openai.Timeout(self.timeouts.total, connect=self.timeouts.connect)
        if self._http is None:
            self._http = openai.DefaultAsyncHttpxClient(timeout=timeout)
        try:
            return openai.AsyncOpenAI(
                api_key=api_key,
                base_url=self.base_url,
                timeout=timeout,
                max_retries=0,
                http_client=self._http,
            )
        except openai.OpenAIError as exc:
            raise ProviderError(ProviderErrorCode.AUTH, str(exc)) from exc

    def _body(self, messages: Sequence[ChatMessage], params: GenerationParams) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": params.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
        }
        if params.max_tokens is not None:
            body[self.max_tokens_field] = params.max_tokens
        if params.temperature is not None:
            body["temperature"] = as_float(params.temperature)
        if params.top_p is not None:
            body["top_p"] = as_float(params.top_p)
        if params.extra:
            body["extra_body"] = dict(params.extra)
        return body

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        api_key: str | None,
    ) -> AsyncGenerator[TokenDelta | StreamEnd | UsageReport, None]:
        """Stream the reply; usage comes from the host's final chunk (``include_usage``).
        Chunks are read as JSON (:func:`~synapse_gql.llm.openai_wire.chunk_payloads`)."""
        client = self._client(api_key)
        collected = _Collected()
        try:
            response = await client.chat.completions.create(
                **self._body(messages, params),
                stream=True,
                stream_options={"include_usage": True},
            )
            async with response, aclosing(chunk_payloads(response)) as chunks:
                async for chunk in chunks:
                    reported = collected.usage
                    text = collected.take(chunk)
                    if text:
                        yield TokenDelta(text)
                    if collected.usage is not reported and collected.usage is not None:
                        yield UsageReport(PartialUsage.of(collected.usage))
        except openai.OpenAIError as exc:
            if collected.finish is None:
                raise with_usage(map_openai_error(exc), collected.reported()) from exc
        except TRANSPORT_ERRORS as exc:
            if collected.finish is None:
                raise with_usage(transport_error(exc), collected.reported()) from exc
        yield collected.finish_event(self.name, params.model, messages)

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        api_key: str | None,
    ) -> tuple[str, StreamEnd]:
        """Return the whole reply from one non-streaming request."""
        client = self._client(api_key)
        try:
            response = await client.chat.completions.create(**self._body(messages, params))
        except openai.OpenAIError as exc:
            raise map_openai_error(exc) from exc
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc) from exc
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice else None) or ""
        finish = choice.finish_reason if choice else None
        if response.usage is not None:
            usage = _usage(response.usage)
        else:
            usage = estimated_usage(params.model, self.name, messages, text)
        if finish == CONTENT_FILTER_FINISH:
            raise filtered(self.name, usage)
        return text, StreamEnd(finish_reason=finish, usage=usage)

    async def aclose(self) -> None:
        """Close the pooled HTTP connections."""
        self._clients.clear()
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()


class OpenAIProvider(OpenAICompatibleProvider):
    """OpenAI itself: the SDK's default URL and key handling, ``max_completion_tokens``."""

    def __init__(self, base_url: str | None = None, timeouts: Timeouts | None = None) -> None:
        super().__init__("openai", base_url, timeouts, max_tokens_field="max_completion_tokens")

    def _default_key(self) -> str | None:
        """No key from the caller: the SDK reads ``OPENAI_API_KEY``."""
        return None


@provider("openai", key_variable="OPENAI_API_KEY", settings_key="openai_api_key")
def _openai(base_url: str | None, timeouts: Timeouts) -> OpenAIProvider:
    return OpenAIProvider(base_url, timeouts)


def _compatible(name: str) -> Callable[[str | None, Timeouts], OpenAICompatibleProvider]:
    def build(base_url: str | None, timeouts: Timeouts) -> OpenAICompatibleProvider:
        return OpenAICompatibleProvider(name, base_url, timeouts)

    return build


for _name, _variable, _url in COMPATIBLE_HOSTS:
    register_provider(
        ProviderSpec(_name, _compatible(_name), _variable, _variable.lower(), base_url=_url)
    )
