"""The built-in mock provider behind the catalog's development model ("mock"/"synapse-dev"):
deterministic replies, a configurable token rate, realistic usage, no network."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from synapse_gql.llm.tokens import count_tokens
from synapse_gql.llm.types import (
    ChatMessage,
    GenerationParams,
    StreamEnd,
    TokenDelta,
    Usage,
    UsageReport,
)

MOCK_PROVIDER = "mock"
MOCK_MODEL = "synapse-dev"
MAX_ECHO_CHARS = 200

_SENTENCES = (
    "It answers every prompt without calling a real model, so you can build and test "
    "conversations without an API key.",
    "Replies are deterministic: the same prompt always produces the same text, token for token.",
    "Tokens are streamed at a configurable rate to make the interface feel like a real model.",
    "Usage is reported for every reply, so metering and quotas can be exercised end to end.",
    "Switch the agent to a hosted model when you want real answers.",
    "The reply length varies with the prompt, between a few dozen and about a hundred words.",
    "Nothing you send here leaves the server.",
    "Markdown, code blocks and long threads all pass through the same streaming path.",
)
_TOKEN = re.compile(r"\s*\S+")


@dataclass(frozen=True, slots=True)
class MockSettings:
    """Whether the mock provider is offered, and its speed (tokens per second; 0 = unthrottled)."""

    tokens_per_second: float = 30.0
    enabled: bool = True


def mock_reply(messages: Sequence[ChatMessage]) -> str:
    """The deterministic reply to ``messages``, derived from the last user message."""
    last = next((m.content for m in reversed(messages) if m.role == "user"), "")
    echo = " ".join(last.split())
    if len(echo) > MAX_ECHO_CHARS:
        echo = echo[:MAX_ECHO_CHARS].rstrip() + "..."
    digest = hashlib.sha256(last.encode()).digest()
    target_words = 40 + digest[0] % 60
    start = digest[1] % len(_SENTENCES)
    parts = [f"You said: {echo or '(nothing)'}.", "This is the Synapse development model."]
    words = sum(len(part.split()) for part in parts)
    index = 0
    while words < target_words and index < len(_SENTENCES):
        sentence = _SENTENCES[(start + index) % len(_SENTENCES)]
        parts.append(sentence)
        words += len(sentence.split())
        index += 1
    return " ".join(parts)


def split_tokens(text: str) -> list[str]:
    """Word-ish tokens (each word with its leading whitespace); they join back to ``text``."""
    return _TOKEN.findall(text)


class MockProvider:
    """Streams :func:`mock_reply` at ``settings.tokens_per_second``; ignores the API key."""

    name = MOCK_PROVIDER

    def __init__(self, settings: MockSettings | None = None) -> None:
        self.settings = settings or MockSettings()

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        api_key: str | None,
    ) -> AsyncGenerator[TokenDelta | StreamEnd | UsageReport, None]:
        """Yield the reply token by token, then its usage (input tokens by the estimator)."""
        tokens = split_tokens(mock_reply(messages))
        finish = "stop"
        if params.max_tokens is not None and len(tokens) > params.max_tokens:
            tokens, finish = tokens[: max(params.max_tokens, 0)], "length"
        rate = self.settings.tokens_per_second
        loop = asyncio.get_running_loop()
        started = loop.time()
        for index, token in enumerate(tokens):
            if rate > 0:
                await asyncio.sleep(max(0.0, started + index / rate - loop.time()))
            else:
                await asyncio.sleep(0)
            yield TokenDelta(token)
        input_tokens, _ = count_tokens(params.model, MOCK_PROVIDER, messages)
        usage = Usage(input_tokens=input_tokens, output_tokens=len(tokens))
        yield StreamEnd(finish_reason=finish, usage=usage)

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        api_key: str | None,
    ) -> tuple[str, StreamEnd]:
        """The same reply as :meth:`stream`, collected."""
        parts: list[str] = []
        end = StreamEnd(finish_reason=None, usage=None)
        async for event in self.stream(messages, params, api_key=api_key):
            if isinstance(event, TokenDelta):
                parts.append(event.text)
            elif isinstance(event, StreamEnd):
                end = event
        return "".join(parts), end

    async def aclose(self) -> None:
        """Nothing to release."""
