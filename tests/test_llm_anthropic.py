"""The Anthropic adapter, with the real ``anthropic`` SDK, against a loopback fake of the API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from synapse_gql.llm import (
    AnthropicProvider,
    ChatMessage,
    GenerationParams,
    ProviderError,
    ProviderErrorCode,
    StreamEnd,
    Timeouts,
    Usage,
    build_providers,
    complete_with_retries,
    stream_with_retries,
)
from synapse_gql.llm.anthropic_provider import DEFAULT_MAX_TOKENS, to_anthropic
from synapse_gql.llm.types import PartialUsage, UsageReport
from tests.llm_fakes import (
    DEFAULT_TEXT,
    FakeHost,
    Reply,
    anthropic_error,
    drain,
    fake_anthropic,
    sent_key,
)

TIMEOUTS = Timeouts(connect=5, first_token=5, total=30)
KEY = "sk-ant-test"
MESSAGES = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Say hello."),
]
PARAMS = GenerationParams(model="claude-opus-4-6", max_tokens=256)
OVERLOADED = anthropic_error(529, "overloaded_error", "Overloaded")


@pytest.fixture
async def host() -> AsyncIterator[FakeHost]:
    async with fake_anthropic() as fake:
        yield fake


@pytest.fixture
async def provider(host: FakeHost) -> AsyncIterator[AnthropicProvider]:
    adapter = AnthropicProvider(host.base_url, TIMEOUTS)
    yield adapter
    await adapter.aclose()


def _stream(provider: AnthropicProvider, **options: object):
    options.setdefault("base_delay", 0.01)
    options.setdefault("timeouts", TIMEOUTS)
    return stream_with_retries(provider, MESSAGES, PARAMS, KEY, **options)  # type: ignore[arg-type]


async def test_complete_puts_the_system_prompt_in_the_system_parameter(host, provider) -> None:
    text, end = await provider.complete(MESSAGES, PARAMS, api_key=KEY)

    assert text == DEFAULT_TEXT
    assert end == StreamEnd(finish_reason="end_turn", usage=Usage(21, 9))
    sent = host.last
    assert sent.path == "/v1/messages"
    assert sent_key(sent) == KEY
    assert "anthropic-version" in sent.headers
    assert sent.body["system"] == "You are terse."
    assert sent.body["messages"] == [{"role": "user", "content": "Say hello."}]
    assert sent.body["max_tokens"] == 256
    assert sent.body["model"] == "claude-opus-4-6"


async def test_messages_are_merged_to_alternate_and_max_tokens_defaults(host, provider) -> None:
    messages = [
        ChatMessage("system", "Rule one."),
        ChatMessage("user", "First question."),
        ChatMessage("user", "And a follow-up."),
        ChatMessage("system", "Rule two."),
        ChatMessage("assistant", "Answer."),
        ChatMessage("assistant", "More answer."),
        ChatMessage("user", "Thanks."),
    ]
    params = GenerationParams(model="claude-haiku-4-5", temperature=0.2, extra={"top_k": 5})

    await provider.complete(messages, params, api_key=KEY)

    body = host.last.body
    assert body["system"] == "Rule one.\n\nRule two."
    assert body["messages"] == [
        {"role": "user", "content": "First question.\n\nAnd a follow-up."},
        {"role": "assistant", "content": "Answer.\n\nMore answer."},
        {"role": "user", "content": "Thanks."},
    ]
    assert body["max_tokens"] == DEFAULT_MAX_TOKENS == 1024
    assert body["temperature"] == 0.2
    assert body["top_k"] == 5


async def test_no_system_message_sends_no_system_parameter(host, provider) -> None:
    await provider.complete([ChatMessage("user", "Hi")], PARAMS, api_key=KEY)

    assert "system" not in host.last.body


def test_only_system_messages_is_a_bad_request() -> None:
    with pytest.raises(ProviderError) as caught:
        to_anthropic([ChatMessage("system", "Alone.")])

    assert caught.value.code is ProviderErrorCode.BAD_REQUEST


async def test_stream_yields_tokens_in_order_and_the_reported_usage(host, provider) -> None:
    host.default = Reply(text="Red orange yellow green", input_tokens=40, output_tokens=4)

    drained = await drain(provider.stream(MESSAGES, PARAMS, api_key=KEY))

    assert drained.error is None
    assert drained.tokens == ["Red", " orange", " yellow", " green"]
    assert drained.end == StreamEnd(finish_reason="end_turn", usage=Usage(40, 4))
    assert host.last.body["stream"] is True
    assert host.last.body["system"] == "You are terse."


async def test_max_tokens_stop_reason_is_reported(host, provider) -> None:
    host.default = Reply(text="cut short", finish_reason="max_tokens")

    drained = await drain(provider.stream(MESSAGES, PARAMS, api_key=KEY))

    assert drained.end is not None
    assert drained.end.finish_reason == "max_tokens"


async def test_unauthorized_is_auth_and_not_retried(host, provider) -> None:
    host.default = anthropic_error(401, "authentication_error", "invalid x-api-key")

    drained = await drain(_stream(provider))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.AUTH
    assert drained.error.retryable is False
    assert host.calls == 1


async def test_no_key_at_all_is_auth_without_a_request(
    host: FakeHost, provider: AnthropicProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)

    drained = await drain(provider.stream(MESSAGES, PARAMS, api_key=None))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.AUTH
    assert host.calls == 0


async def test_rate_limit_then_success_is_retried(host, provider) -> None:
    host.script = [anthropic_error(429, "rate_limit_error", "Number of requests exceeded")]

    drained = await drain(_stream(provider))

    assert drained.error is None
    assert drained.text == DEFAULT_TEXT
    assert host.calls == 2


async def test_overloaded_is_unavailable_after_every_attempt(host, provider) -> None:
    host.default = OVERLOADED

    drained = await drain(_stream(provider, attempts=3))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert drained.error.retryable is True
    assert drained.error.status == 529
    assert host.calls == 3


async def test_server_error_is_unavailable_after_every_attempt(host, provider) -> None:
    host.default = anthropic_error(500, "api_error", "Internal server error")

    drained = await drain(_stream(provider, attempts=2))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert drained.error.status == 500
    assert host.calls == 2


async def test_a_stream_broken_halfway_keeps_its_tokens_and_is_not_retried(host, provider) -> None:
    host.default = Reply(text="one two three four five six", break_after=2)

    drained = await drain(_stream(provider, attempts=3))

    assert drained.tokens == ["one", " two"]
    assert drained.end is None
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert host.calls == 1


async def test_an_overloaded_event_before_any_token_is_retried(host, provider) -> None:
    host.script = [Reply(stream_error={"type": "overloaded_error", "message": "Overloaded"})]

    drained = await drain(_stream(provider))

    assert drained.error is None
    assert drained.text == DEFAULT_TEXT
    assert host.calls == 2


async def test_a_slow_first_token_times_out(host, provider) -> None:
    host.default = Reply(first_token_delay=5)
    # 1 s, not 0.2 s: each attempt's request must reach the host (it counts the calls)
    # before the bound, on a loaded machine too.
    timeouts = Timeouts(connect=5, first_token=1.0, total=30)

    drained = await drain(_stream(provider, attempts=1, timeouts=timeouts))

    assert drained.tokens == []
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.TIMEOUT
    assert host.calls == 1


async def test_prompt_too_long_is_context_too_long(host, provider) -> None:
    host.default = anthropic_error(
        400, "invalid_request_error", "prompt is too long: 215000 tokens > 200000 maximum"
    )

    drained = await drain(_stream(provider))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.CONTEXT_TOO_LONG
    assert drained.error.retryable is False
    assert host.calls == 1


async def test_refusal_is_content_filtered(host, provider) -> None:
    host.default = Reply(text="I can't help with that.", finish_reason="refusal")

    with pytest.raises(ProviderError) as caught:
        await provider.complete(MESSAGES, PARAMS, api_key=KEY)

    assert caught.value.code is ProviderErrorCode.CONTENT_FILTERED
    assert caught.value.usage == Usage(21, 9)


async def test_complete_with_retries_survives_one_overload(host, provider) -> None:
    host.script = [OVERLOADED]

    text, end = await complete_with_retries(provider, MESSAGES, PARAMS, KEY, base_delay=0.01)

    assert text == DEFAULT_TEXT
    assert end.finish_reason == "end_turn"
    assert host.calls == 2


async def test_build_providers_honours_an_anthropic_base_url(host: FakeHost) -> None:
    providers = build_providers({"anthropic": host.base_url}, TIMEOUTS, None)
    try:
        text, _ = await providers["anthropic"].complete(MESSAGES, PARAMS, api_key=KEY)
    finally:
        for provider in providers.values():
            await provider.aclose()

    assert text == DEFAULT_TEXT
    assert host.calls == 1


async def test_a_stream_cut_before_any_text_carries_the_reported_input(host, provider) -> None:
    """Given message_start (21 input tokens) then a dropped connection, three times, then
    two retried attempts announced with their reported input, and the final error too."""
    host.default = Reply(input_tokens=21, break_after=0)

    drained = await drain(_stream(provider, attempts=3))

    assert drained.tokens == []
    assert drained.end is None
    assert host.calls == 3
    assert [event.attempt for event in drained.retried] == [1, 2]
    for error in [*(event.error for event in drained.retried), drained.error]:
        assert error is not None
        assert error.usage == PartialUsage(21, None)


async def test_a_stream_cut_mid_text_carries_the_reported_input(host, provider) -> None:
    host.default = Reply(text="one two three four", input_tokens=21, break_after=2)

    drained = await drain(_stream(provider, attempts=3))

    assert drained.tokens == ["one", " two"]
    assert host.calls == 1
    assert drained.reports == [UsageReport(PartialUsage(21, None))]
    assert drained.error is not None
    assert drained.error.usage == PartialUsage(21, None)


@pytest.mark.parametrize("cut", ["message_stop", None])
async def test_a_reply_with_its_message_delta_is_complete_even_if_cut(host, provider, cut) -> None:
    """Given message_delta (stop reason and output count) and then a dropped connection
    instead of message_stop, then a normal end with the host's counts, not retried."""
    host.default = Reply(input_tokens=21, output_tokens=9, cut_before=cut)

    drained = await drain(_stream(provider, attempts=3))

    assert drained.error is None
    assert drained.text == DEFAULT_TEXT
    assert host.calls == 1
    assert drained.end == StreamEnd(finish_reason="end_turn", usage=Usage(21, 9))


async def test_a_stream_cut_before_message_delta_is_an_error_with_the_input(host, provider) -> None:
    host.default = Reply(input_tokens=21, cut_before="message_delta")

    drained = await drain(_stream(provider, attempts=1))

    assert drained.text == DEFAULT_TEXT
    assert drained.end is None
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert drained.error.usage == PartialUsage(21, None)
