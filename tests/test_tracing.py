"""Traces: a span per model call with the GenAI attributes, under the request's span (the
background answer of ``sendMessage`` too), SQL spans in the same trace, error status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import SecretStr

from synapse_gql.app import create_app
from synapse_gql.config import Settings
from synapse_gql.observability import tracing
from tests.chat_helpers import new_conversation, send
from tests.generation_helpers import generate, llm_global_id, make_team, running, usage_rows
from tests.helpers import db_id
from tests.llm_fakes import FakeHost, openai_error


@pytest.fixture
def settings(settings: Settings, openai_host: FakeHost) -> Settings:
    changes = {
        "provider_base_urls": {"openai": openai_host.base_url},
        "openai_api_key": SecretStr("sk-global-key-0000000003333"),
        "llm_retry_attempts": 1,
    }
    return settings.model_copy(update=changes)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    """Spans kept in memory: no network."""
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    previous = tracing.use_provider(provider)
    yield spans
    tracing.use_provider(previous)


@pytest.fixture
async def app(exporter, settings):
    """The app built while tracing into ``exporter``."""
    async with running(create_app(settings)) as application:
        yield application


def model_spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]


def parent_of(exporter: InMemorySpanExporter, span: ReadableSpan) -> ReadableSpan:
    assert span.parent is not None, span.name
    [parent] = [
        s for s in exporter.get_finished_spans() if s.context.span_id == span.parent.span_id
    ]
    return parent


async def test_generate_makes_a_model_span_under_the_request_span(
    gql, make_user, make_workspace, db_engine, exporter
) -> None:
    """Given gpt-4o, when a member generates with max tokens and temperature, then one
    client span carries the GenAI attributes and the usage row's tokens, under the POST
    /graphql server span, whose trace also holds the SQL statements."""
    team = await make_team(make_user, make_workspace)
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    exporter.clear()

    result = await generate(
        gql, team.owner.token, team.workspace, gpt4o, maxTokens=50, temperature="0.5"
    )

    assert result["__typename"] == "Generation", result
    [row] = await usage_rows(db_engine)
    [span] = model_spans(exporter)
    assert span.kind is SpanKind.CLIENT
    assert span.name == "chat gpt-4o"
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": "openai",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.temperature": 0.5,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": row.input_tokens,
        "gen_ai.usage.output_tokens": row.output_tokens,
    }
    assert span.status.status_code is StatusCode.UNSET
    request = parent_of(exporter, span)
    assert request.kind is SpanKind.SERVER
    assert request.name == "POST /graphql"
    trace_id = span.context.trace_id
    statements = [
        s
        for s in exporter.get_finished_spans()
        if s.context.trace_id == trace_id and s.attributes and "db.system" in s.attributes
    ]
    assert statements, [s.name for s in exporter.get_finished_spans()]


async def test_a_failed_call_has_an_error_status(
    gql, make_user, make_workspace, db_engine, exporter, openai_host
) -> None:
    """Given a host that refuses the key, when a member generates, then the model span ends
    with an error status and the error type AUTH's name."""
    team = await make_team(make_user, make_workspace)
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    openai_host.script = [openai_error(401, "Incorrect API key provided", code="invalid_api_key")]
    exporter.clear()

    result = await generate(gql, team.owner.token, team.workspace, gpt4o)

    assert result["__typename"] == "UserError", result
    [span] = model_spans(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "auth"
    assert "gen_ai.usage.output_tokens" not in span.attributes


async def test_a_chat_answer_in_the_background_is_traced_under_its_request(
    app, gql, make_user, make_workspace, exporter
) -> None:
    """Given a conversation on the mock model, when a member sends a message, then the
    answer, generated after the mutation returned, has its model span parented under the
    sendMessage request's span, with the mock's finish reason."""
    team = await make_team(make_user, make_workspace)
    conversation = await new_conversation(gql, team.owner, team.workspace)
    exporter.clear()

    turn = await send(gql, team.owner, conversation, "Hello there")
    await app.state.synapse.generations.wait(db_id(turn["assistantMessage"]["id"]))

    [span] = model_spans(exporter)
    assert span.attributes["gen_ai.provider.name"] == "mock"
    assert span.attributes["gen_ai.request.model"] == "synapse-dev"
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.usage.output_tokens"] > 0
    request = parent_of(exporter, span)
    assert (request.kind, request.name) == (SpanKind.SERVER, "POST /graphql")
