"""Model calls observed: a span with the GenAI semantic conventions' attributes, the
``llm_calls_total`` counter and the in-flight gauge, around each request to a provider
(each attempt of a retried call is a request of its own). Tokens and cost are counted
where calls are metered (``metering.service``), so estimated counts are included."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from synapse_gql.llm.base import Provider
from synapse_gql.llm.types import ChatMessage, GenerationParams, ProviderError, StreamEnd
from synapse_gql.observability import metrics, tracing

OK = "ok"
CANCELLED = "cancelled"


def request_attributes(provider: str, params: GenerationParams) -> dict[str, Any]:
    """The span's request attributes (GenAI semantic conventions)."""
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": provider,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": params.model,
    }
    optional = {
        "gen_ai.request.max_tokens": params.max_tokens,
        "gen_ai.request.temperature": params.temperature,
        "gen_ai.request.top_p": params.top_p,
    }
    for key, value in optional.items():
        if value is not None:
            attributes[key] = value if isinstance(value, int) else float(value)
    return attributes


def record_end(span: Span, end: StreamEnd) -> None:
    """Finish reason and reported usage of a call that ended well."""
    if end.finish_reason:
        span.set_attribute("gen_ai.response.finish_reasons", [end.finish_reason])
    usage = end.usage
    if usage is not None:
        # The conventions count cached prompt tokens as input too.
        prompt = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        span.set_attribute("gen_ai.usage.input_tokens", prompt)
        span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)


def record_failure(span: Span, status: str, message: str) -> None:
    """Error status and type of a call that did not end well."""
    span.set_attribute("error.type", status)
    span.set_status(Status(StatusCode.ERROR, message))


class ObservedProvider:
    """``provider`` with every request observed; anything else is the provider's own."""

    def __init__(self, provider: Provider) -> None:
        self.inner = provider
        self.name = provider.name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self.inner, attribute)

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, api_key: str | None
    ) -> AsyncGenerator[Any, None]:
        """The provider's events, unchanged, inside the call's span."""
        with _Call(self.name, params) as call:
            events = self.inner.stream(messages, params, api_key=api_key)
            try:
                async for event in events:
                    if isinstance(event, StreamEnd):
                        call.ended(event)
                    yield event
            finally:
                await events.aclose()

    async def complete(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, api_key: str | None
    ) -> tuple[str, StreamEnd]:
        """The provider's whole reply, inside the call's span."""
        with _Call(self.name, params) as call:
            text, end = await self.inner.complete(messages, params, api_key=api_key)
            call.ended(end)
            return text, end

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Call:
    """One request to a provider: its span, its place in the in-flight gauge, its count."""

    def __init__(self, provider: str, params: GenerationParams) -> None:
        self.provider = provider
        self.model = params.model
        self.status = CANCELLED
        # Started, not made current: a stream is resumed from its consumer's context, which
        # must not see this span as its own.
        self.span = tracing.tracer().start_span(
            f"chat {params.model}",
            kind=SpanKind.CLIENT,
            attributes=request_attributes(provider, params),
        )

    def __enter__(self) -> _Call:
        metrics.LLM_IN_FLIGHT.inc()
        return self

    def ended(self, end: StreamEnd) -> None:
        self.status = OK
        record_end(self.span, end)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: Any
    ) -> None:
        if isinstance(error, ProviderError):
            self.status = error.code.value.lower()
        if self.status != OK:
            record_failure(self.span, self.status, str(error or "the call was cancelled"))
        metrics.LLM_IN_FLIGHT.dec()
        metrics.LLM_CALLS.labels(self.provider, self.model, self.status).inc()
        self.span.end()


def observed(providers: Mapping[str, Provider]) -> dict[str, Provider]:
    """Every provider of ``providers``, observed."""
    return {name: ObservedProvider(provider) for name, provider in providers.items()}
