"""The OpenAI adapter, with the real ``openai`` SDK, against a loopback fake of the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import openai
import pytest

from synapse_gql.llm import (
    ChatMessage,
    GenerationParams,
    OpenAICompatibleProvider,
    OpenAIProvider,
    ProviderError,
    ProviderErrorCode,
    StreamEnd,
    Timeouts,
    Usage,
    build_providers,
    complete_with_retries,
    count_tokens,
    stream_with_retries,
)
from synapse_gql.llm.support import NO_KEY
from synapse_gql.llm.types import PartialUsage, UsageReport
from tests.llm_fakes import DEFAULT_TEXT, Fail, FakeHost, Reply, drain, fake_openai, openai_error
from tests.llm_fakes import sent_key as key_of

TIMEOUTS = Timeouts(connect=5, first_token=5, total=30)
KEY = "sk-test-123"
MESSAGES = [
    ChatMessage("system", "You are terse."),
    ChatMessage("user", "Say hello."),
]
PARAMS = GenerationParams(model="gpt-4o", max_tokens=64, temperature=Decimal("0.7"), top_p=0.9)
SERVER_ERROR = openai_error(500, "The server had an error", kind="server_error")


@pytest.fixture
async def host() -> AsyncIterator[FakeHost]:
    async with fake_openai() as fake:
        yield fake


@pytest.fixture
async def provider(host: FakeHost) -> AsyncIterator[OpenAIProvider]:
    adapter = OpenAIProvider(host.base_url, TIMEOUTS)
    yield adapter
    await adapter.aclose()


def _stream(provider: OpenAICompatibleProvider, **options: object):
    options.setdefault("base_delay", 0.01)
    options.setdefault("timeouts", TIMEOUTS)
    return stream_with_retries(provider, MESSAGES, PARAMS, KEY, **options)  # type: ignore[arg-type]


async def test_complete_returns_text_usage_and_sends_the_request(host, provider) -> None:
    text, end = await provider.complete(MESSAGES, PARAMS, api_key=KEY)

    assert text == DEFAULT_TEXT
    assert end == StreamEnd(finish_reason="stop", usage=Usage(21, 9))
    sent = host.last
    assert key_of(sent) == KEY
    assert sent.body["model"] == "gpt-4o"
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello."},
    ]
    assert sent.body["max_completion_tokens"] == 64
    assert sent.body["temperature"] == 0.7
    assert sent.body["top_p"] == 0.9
    assert "stream" not in sent.body


async def test_stream_yields_tokens_in_order_and_the_reported_usage(host, provider) -> None:
    host.default = Reply(text="One two three four five", input_tokens=33, output_tokens=5)

    drained = await drain(provider.stream(MESSAGES, PARAMS, api_key=KEY))

    assert drained.error is None
    assert drained.tokens == ["One", " two", " three", " four", " five"]
    assert drained.end == StreamEnd(finish_reason="stop", usage=Usage(33, 5))
    assert host.last.body["stream"] is True
    assert host.last.body["stream_options"] == {"include_usage": True}


async def test_chunks_are_read_as_json_and_one_client_serves_a_key(
    host, provider, monkeypatch
) -> None:
    """Two streamed replies with one key: the SDK builds no model per chunk (each is read
    once as JSON from the SDK's own stream) and the key's client is made once; a second
    key gets its own."""
    built = []
    real_init = openai.AsyncOpenAI.__init__

    def counted_init(self, *args, **kwargs) -> None:
        built.append(kwargs.get("api_key"))
        real_init(self, *args, **kwargs)

    processed = []
    real_process = openai.AsyncOpenAI._process_response_data

    def counted_process(self, *args, **kwargs):
        processed.append(1)
        return real_process(self, *args, **kwargs)

    monkeypatch.setattr(openai.AsyncOpenAI, "__init__", counted_init)
    monkeypatch.setattr(openai.AsyncOpenAI, "_process_response_data", counted_process)
    host.default = Reply(text="One two three", input_tokens=7, output_tokens=3)

    first = await drain(provider.stream(MESSAGES, PARAMS, api_key=KEY))
    second = await drain(provider.stream(MESSAGES, PARAMS, api_key=KEY))
    other = await drain(provider.stream(MESSAGES, PARAMS, api_key="sk-other"))

    for drained in (first, second, other):
        assert drained.tokens == ["One", " two", " three"]
        assert drained.end == StreamEnd(finish_reason="stop", usage=Usage(7, 3))
    assert processed == []
    assert built == [KEY, "sk-other"]
    assert [key_of(request) for request in host.requests] == [KEY, KEY, "sk-other"]


async def test_a_host_without_usage_gets_an_estimate(host, provider) -> None:
    host.default = Reply(text="Hello world", send_usage=False)

    drained = await drain(provider.stream(MESSAGES, PARAMS, api_key=KEY))

    assert drained.end is not None
    assert drained.end.usage is not None
    usage = drained.end.usage
    assert usage.estimated is True
    assert usage.output_tokens == 2  # "Hello world" is two o200k tokens
    assert usage.input_tokens > 0


async def test_extra_params_are_merged_into_the_body(host, provider) -> None:
    params = GenerationParams(model="gpt-4o-mini", extra={"stop": ["END"], "seed": 7})

    await provider.complete(MESSAGES, params, api_key=KEY)

    assert host.last.body["stop"] == ["END"]
    assert host.last.body["seed"] == 7
    assert "max_completion_tokens" not in host.last.body
    assert "temperature" not in host.last.body


async def test_unauthorized_is_auth_and_not_retried(host, provider) -> None:
    host.default = openai_error(401, "Incorrect API key provided", code="invalid_api_key")

    drained = await drain(_stream(provider))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.AUTH
    assert drained.error.retryable is False
    assert drained.error.status == 401
    assert host.calls == 1


async def test_rate_limit_then_success_is_retried(host, provider) -> None:
    host.script = [openai_error(429, "Rate limit reached", code="rate_limit_exceeded")]

    drained = await drain(_stream(provider))

    assert drained.error is None
    assert drained.text == DEFAULT_TEXT
    assert drained.end is not None
    assert drained.end.usage == Usage(21, 9)
    assert host.calls == 2


async def test_exhausted_quota_is_not_retried(host, provider) -> None:
    host.default = openai_error(429, "You exceeded your current quota", code="insufficient_quota")

    drained = await drain(_stream(provider))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.RATE_LIMIT
    assert drained.error.retryable is False
    assert host.calls == 1


async def test_server_errors_are_unavailable_after_every_attempt(host, provider) -> None:
    host.default = SERVER_ERROR

    drained = await drain(_stream(provider, attempts=3))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert drained.error.retryable is True
    assert drained.error.status == 500
    assert drained.tokens == []
    assert host.calls == 3


async def test_a_stream_broken_halfway_keeps_its_tokens_and_is_not_retried(host, provider) -> None:
    host.default = Reply(text="alpha beta gamma delta epsilon zeta", break_after=3)

    drained = await drain(_stream(provider, attempts=3))

    assert drained.tokens == ["alpha", " beta", " gamma"]
    assert drained.end is None
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert host.calls == 1


async def test_a_slow_first_token_times_out(host, provider) -> None:
    host.default = Reply(first_token_delay=5)
    # 1 s, not 0.2 s: each attempt's request must reach the host (it counts the calls)
    # before the bound, on a loaded machine too.
    timeouts = Timeouts(connect=5, first_token=1.0, total=30)

    drained = await drain(_stream(provider, attempts=2, timeouts=timeouts))

    assert drained.tokens == []
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.TIMEOUT
    assert drained.error.retryable is True
    assert host.calls == 2


async def test_a_slow_first_token_is_retried_until_a_fast_one(host, provider) -> None:
    host.script = [Reply(first_token_delay=5)]
    # The fast reply must beat the bound on a loaded machine too: 1 s, not 0.2 s.
    timeouts = Timeouts(connect=5, first_token=1.0, total=30)

    drained = await drain(_stream(provider, attempts=2, timeouts=timeouts))

    assert drained.error is None
    assert drained.text == DEFAULT_TEXT
    assert host.calls == 2


async def test_context_too_long(host, provider) -> None:
    host.default = openai_error(
        400,
        "This model's maximum context length is 128000 tokens. "
        "However, your messages resulted in 130017 tokens.",
        code="context_length_exceeded",
    )

    drained = await drain(_stream(provider))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.CONTEXT_TOO_LONG
    assert drained.error.retryable is False
    assert host.calls == 1


async def test_other_client_errors_are_bad_requests(host, provider) -> None:
    host.default = openai_error(404, "The model `gpt-9` does not exist", code="model_not_found")

    with pytest.raises(ProviderError) as caught:
        await complete_with_retries(provider, MESSAGES, PARAMS, KEY, base_delay=0.01)

    assert caught.value.code is ProviderErrorCode.BAD_REQUEST
    assert caught.value.status == 404
    assert host.calls == 1


async def test_content_filter_finish_reason(host, provider) -> None:
    host.default = Reply(text="I cannot", finish_reason="content_filter")

    drained = await drain(provider.stream(MESSAGES, PARAMS, api_key=KEY))

    assert drained.tokens == ["I", " cannot"]
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.CONTENT_FILTERED
    assert drained.error.usage == Usage(21, 9)


async def test_content_filter_error_code(host, provider) -> None:
    host.default = openai_error(400, "The response was filtered", code="content_filter")

    drained = await drain(_stream(provider))

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.CONTENT_FILTERED


async def test_an_error_event_before_any_token_is_retried(host, provider) -> None:
    host.script = [Reply(stream_error={"message": "overloaded", "type": "server_error"})]

    drained = await drain(_stream(provider))

    assert drained.error is None
    assert drained.text == DEFAULT_TEXT
    assert host.calls == 2


async def test_complete_with_retries_retries_rate_limits(host, provider) -> None:
    host.script = [openai_error(429, "slow down", code="rate_limit_exceeded"), SERVER_ERROR]

    text, end = await complete_with_retries(provider, MESSAGES, PARAMS, KEY, base_delay=0.01)

    assert text == DEFAULT_TEXT
    assert end.usage == Usage(21, 9)
    assert host.calls == 3


async def test_unreachable_host_is_unavailable() -> None:
    from tests.live import free_port

    adapter = OpenAIProvider(f"http://127.0.0.1:{free_port()}/v1", TIMEOUTS)
    try:
        drained = await drain(_stream(adapter, attempts=2))
    finally:
        await adapter.aclose()

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert drained.error.retryable is True


async def test_compatible_provider_uses_its_base_url_and_never_the_openai_key(
    host: FakeHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-platform-openai-key")
    adapter = OpenAICompatibleProvider("ollama", host.base_url, TIMEOUTS)
    try:
        text, _ = await adapter.complete(MESSAGES, PARAMS, api_key=None)
        drained = await drain(adapter.stream(MESSAGES, PARAMS, api_key="xai-key"))
    finally:
        await adapter.aclose()

    assert text == DEFAULT_TEXT
    assert drained.text == DEFAULT_TEXT
    first, second = host.requests
    assert key_of(first) == NO_KEY
    assert key_of(second) == "xai-key"
    assert first.body["max_tokens"] == 64
    assert "max_completion_tokens" not in first.body


async def test_build_providers_points_compatible_hosts_at_overridden_urls(host: FakeHost) -> None:
    providers = build_providers({"google": host.base_url, "vllm": host.base_url}, TIMEOUTS, None)
    try:
        google = providers["google"]
        assert isinstance(google, OpenAICompatibleProvider)
        text, _ = await google.complete(
            MESSAGES, GenerationParams("gemini-2.0-flash"), api_key="g-key"
        )
        text_vllm, _ = await providers["vllm"].complete(
            MESSAGES, GenerationParams("llama"), api_key=None
        )
    finally:
        for provider in providers.values():
            await provider.aclose()

    assert text == text_vllm == DEFAULT_TEXT
    assert [key_of(r) for r in host.requests] == ["g-key", NO_KEY]
    assert [r.body["model"] for r in host.requests] == ["gemini-2.0-flash", "llama"]


async def test_fail_helper_round_trips_retry_after(host, provider) -> None:
    limited = openai_error(429, "Rate limit reached", code="rate_limit_exceeded")
    host.default = Fail(limited.status, limited.body, {"retry-after": "0.05"})

    drained = await drain(_stream(provider, attempts=1))

    assert drained.error is not None
    assert drained.error.retry_after == 0.05


@pytest.mark.parametrize(
    ("cut", "usage"),
    [
        ("done", Usage(21, 9)),
        ("usage", None),
    ],
)
async def test_a_reply_with_its_finish_reason_is_complete_even_if_cut(
    host, provider, cut, usage
) -> None:
    """Given the finish_reason chunk and then a dropped connection (before the usage chunk,
    or before [DONE]), then a normal end, not retried: the host's usage when it came, else
    both counts estimated and flagged."""
    host.default = Reply(input_tokens=21, output_tokens=9, cut_before=cut)

    drained = await drain(_stream(provider, attempts=3))

    assert drained.error is None
    assert drained.text == DEFAULT_TEXT
    assert host.calls == 1
    assert drained.end is not None
    assert drained.end.finish_reason == "stop"
    if usage is None:
        estimated = drained.end.usage
        assert estimated is not None
        assert (estimated.input_estimated, estimated.output_estimated) == (True, True)
        assert estimated.output_tokens == count_tokens(PARAMS.model, "openai", DEFAULT_TEXT)[0]
    else:
        assert drained.end.usage == usage
        assert drained.reports == [UsageReport(PartialUsage(21, 9))]


async def test_refused_attempts_are_announced_without_usage(host, provider) -> None:
    host.script = [openai_error(429, "Rate limit reached", code="rate_limit_exceeded")]

    drained = await drain(_stream(provider, attempts=3))

    assert drained.text == DEFAULT_TEXT
    assert host.calls == 2
    [retried] = drained.retried
    assert (retried.attempt, retried.error.code, retried.error.usage) == (
        1,
        ProviderErrorCode.RATE_LIMIT,
        None,
    )
