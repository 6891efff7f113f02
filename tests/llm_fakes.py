"""Loopback fake LLM hosts that speak the real wire formats, for the SDK adapters' tests.

``fake_openai()`` serves ``POST /v1/chat/completions`` (JSON, or SSE ``data:`` chunks ending in
``data: [DONE]``, with a final usage chunk when ``stream_options.include_usage`` is set);
``fake_anthropic()`` serves ``POST /v1/messages`` (JSON, or the named SSE events). Each call
takes the next scripted behaviour (``Reply`` or ``Fail``) from ``server.script``, or
``server.default`` once the script is used up, and every request is recorded.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from synapse_gql.llm.types import (
    AttemptFailed,
    ProviderError,
    StreamEnd,
    TokenDelta,
    UsageReport,
)
from tests.live import serve

DEFAULT_TEXT = "Hello there! How can I help you today?"


@dataclass
class Reply:
    """A successful answer, optionally misbehaving while it streams."""

    text: str = DEFAULT_TEXT
    input_tokens: int = 21
    output_tokens: int = 9
    finish_reason: str | None = None  # None: the format's normal stop ("stop" / "end_turn")
    break_after: int | None = None  # drop the connection after this many text chunks
    first_token_delay: float = 0.0  # seconds before the first text chunk
    send_usage: bool = True  # OpenAI: honour stream_options.include_usage
    stream_error: dict[str, Any] | None = None  # an error event sent before any text
    # Prompt-cache counts. OpenAI reports reads inside prompt_tokens (cached_tokens);
    # Anthropic reports both apart from input_tokens, in message_start and message_delta.
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    gate: asyncio.Event | None = None  # the first text chunk waits until this is set
    # Drop the connection just before this event, after all the text: OpenAI "usage" (after
    # the finish_reason chunk) or "done" (after the usage chunk); Anthropic "message_delta"
    # or "message_stop" (after message_delta).
    cut_before: str | None = None
    # Text chunks after which the stream waits for this event (to stop it mid-text).
    hold_after: int | None = None
    hold: asyncio.Event | None = None

    def chunks(self) -> list[str]:
        """The text split into word-ish pieces, as hosts stream it."""
        return re.findall(r"\s*\S+", self.text)


@dataclass
class Fail:
    """An HTTP error answer."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    """One request the fake received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class _ConnectionBreak(Exception):
    """Raised inside a streaming body: uvicorn then drops the connection mid-response."""


@dataclass
class FakeHost:
    """A scripted fake host; ``base_url`` is what the SDK client is given."""

    base_url: str = ""
    script: list[Reply | Fail] = field(default_factory=list)
    default: Reply | Fail = field(default_factory=Reply)
    requests: list[Recorded] = field(default_factory=list)

    @property
    def calls(self) -> int:
        """How many requests arrived."""
        return len(self.requests)

    @property
    def last(self) -> Recorded:
        """The latest request."""
        return self.requests[-1]

    async def take(self, request: Request) -> tuple[dict[str, Any], Reply | Fail]:
        """Record ``request`` and pop its behaviour."""
        body = await request.json()
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(Recorded(request.url.path, headers, body))
        behaviour = self.script.pop(0) if self.script else self.default
        return body, behaviour


def openai_error(status: int, message: str, *, code: str | None = None, kind: str = "") -> Fail:
    """An OpenAI-style error answer."""
    error = {"message": message, "type": kind or "invalid_request_error", "param": None}
    return Fail(status, {"error": {**error, "code": code}})


def anthropic_error(status: int, kind: str, message: str) -> Fail:
    """An Anthropic-style error answer."""
    return Fail(status, {"type": "error", "error": {"type": kind, "message": message}})


def _fail_response(fail: Fail) -> Response:
    return JSONResponse(fail.body, status_code=fail.status, headers=fail.headers)


async def _paced(reply: Reply, pieces: list[str]) -> AsyncIterator[str]:
    """The text pieces, after the first-token delay, breaking if asked."""
    for index, piece in enumerate(pieces):
        if index == 0 and reply.first_token_delay:
            await asyncio.sleep(reply.first_token_delay)
        if index == 0 and reply.gate is not None:
            await reply.gate.wait()
        if reply.break_after is not None and index >= reply.break_after:
            raise _ConnectionBreak
        if reply.hold is not None and index == reply.hold_after:
            await reply.hold.wait()
        yield piece


def _cut(reply: Reply, point: str) -> None:
    """Drop the connection here when the reply asks to be cut before ``point``."""
    if reply.cut_before == point:
        raise _ConnectionBreak


def _sse(events: Callable[[], AsyncIterator[str]]) -> StreamingResponse:
    return StreamingResponse(events(), media_type="text/event-stream")


# --- OpenAI chat completions ----------------------------------------------------------------


def _openai_usage(reply: Reply) -> dict[str, Any]:
    prompt = reply.input_tokens + reply.cache_read_tokens
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": reply.output_tokens,
        "total_tokens": prompt + reply.output_tokens,
    }
    if reply.cache_read_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": reply.cache_read_tokens}
    return usage


def _openai_chunk(model: str, choices: list[dict[str, Any]], usage: Any = None) -> str:
    chunk = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": choices,
        "usage": usage,
    }
    return f"data: {json.dumps(chunk)}\n\n"


def _openai_stream(body: dict[str, Any], reply: Reply) -> StreamingResponse:
    model = body["model"]
    with_usage = bool((body.get("stream_options") or {}).get("include_usage")) and reply.send_usage

    async def events() -> AsyncIterator[str]:
        role = {"role": "assistant", "content": ""}
        yield _openai_chunk(model, [{"index": 0, "delta": role, "finish_reason": None}])
        if reply.stream_error is not None:
            yield f"data: {json.dumps({'error': reply.stream_error})}\n\n"
            return
        async for piece in _paced(reply, reply.chunks()):
            delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
            yield _openai_chunk(model, [delta])
        finish = reply.finish_reason or "stop"
        yield _openai_chunk(model, [{"index": 0, "delta": {}, "finish_reason": finish}])
        _cut(reply, "usage")
        if with_usage:
            yield _openai_chunk(model, [], _openai_usage(reply))
        _cut(reply, "done")
        yield "data: [DONE]\n\n"

    return _sse(events)


def _openai_json(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message = {"role": "assistant", "content": reply.text}
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": body["model"],
        "choices": [
            {"index": 0, "message": message, "finish_reason": reply.finish_reason or "stop"}
        ],
        "usage": _openai_usage(reply),
    }


def openai_app(host: FakeHost) -> FastAPI:
    """The OpenAI chat-completions fake."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body, behaviour = await host.take(request)
        if isinstance(behaviour, Fail):
            return _fail_response(behaviour)
        if body.get("stream"):
            return _openai_stream(body, behaviour)
        return JSONResponse(_openai_json(body, behaviour))

    return app


# --- Anthropic messages ---------------------------------------------------------------------


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


def _anthropic_message(body: dict[str, Any], reply: Reply, content: list[Any]) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1, **_cache_usage(reply)},
    }


def _cache_usage(reply: Reply) -> dict[str, int]:
    """Anthropic's cache counts, when the reply has any (not included in input_tokens)."""
    if not (reply.cache_read_tokens or reply.cache_write_tokens):
        return {}
    return {
        "cache_read_input_tokens": reply.cache_read_tokens,
        "cache_creation_input_tokens": reply.cache_write_tokens,
    }


def _anthropic_stream(body: dict[str, Any], reply: Reply) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        start = _anthropic_message(body, reply, [])
        yield _event("message_start", {"type": "message_start", "message": start})
        if reply.stream_error is not None:
            yield _event("error", {"type": "error", "error": reply.stream_error})
            return
        block = {"type": "text", "text": ""}
        yield _event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        )
        yield _event("ping", {"type": "ping"})
        async for piece in _paced(reply, reply.chunks()):
            delta = {"type": "text_delta", "text": piece}
            yield _event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            )
        yield _event("content_block_stop", {"type": "content_block_stop", "index": 0})
        stop = {"stop_reason": reply.finish_reason or "end_turn", "stop_sequence": None}
        usage: dict[str, Any] = {"output_tokens": reply.output_tokens}
        if cached := _cache_usage(reply):
            usage.update(input_tokens=reply.input_tokens, **cached)  # cumulative, as the host
        _cut(reply, "message_delta")
        yield _event("message_delta", {"type": "message_delta", "delta": stop, "usage": usage})
        _cut(reply, "message_stop")
        yield _event("message_stop", {"type": "message_stop"})

    return _sse(events)


def _anthropic_json(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message = _anthropic_message(body, reply, [{"type": "text", "text": reply.text}])
    message["stop_reason"] = reply.finish_reason or "end_turn"
    message["usage"]["output_tokens"] = reply.output_tokens
    return message


def anthropic_app(host: FakeHost) -> FastAPI:
    """The Anthropic Messages fake."""
    app = FastAPI()

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        body, behaviour = await host.take(request)
        if isinstance(behaviour, Fail):
            return _fail_response(behaviour)
        if body.get("stream"):
            return _anthropic_stream(body, behaviour)
        return JSONResponse(_anthropic_json(body, behaviour))

    return app


@asynccontextmanager
async def fake_openai() -> AsyncIterator[FakeHost]:
    """A fake OpenAI host on a loopback port; its ``base_url`` ends in ``/v1``."""
    host = FakeHost()
    async with serve(openai_app(host)) as address:
        host.base_url = f"http://{address}/v1"
        yield host


@asynccontextmanager
async def fake_anthropic() -> AsyncIterator[FakeHost]:
    """A fake Anthropic host on a loopback port; its ``base_url`` is the server root."""
    host = FakeHost()
    async with serve(anthropic_app(host)) as address:
        host.base_url = f"http://{address}"
        yield host


@dataclass
class Drained:
    """What a stream produced: its text pieces, its end, or the error that stopped it."""

    tokens: list[str]
    end: StreamEnd | None
    error: ProviderError | None
    reports: list[UsageReport] = field(default_factory=list)  # usage reported on the way
    retried: list[AttemptFailed] = field(default_factory=list)  # attempts retried

    @property
    def text(self) -> str:
        """The pieces joined."""
        return "".join(self.tokens)


async def drain(events: AsyncIterator[Any]) -> Drained:
    """Consume a provider stream, keeping a ``ProviderError`` instead of raising it."""
    drained = Drained(tokens=[], end=None, error=None)
    try:
        async for event in events:
            if isinstance(event, TokenDelta):
                drained.tokens.append(event.text)
            elif isinstance(event, UsageReport):
                drained.reports.append(event)
            elif isinstance(event, AttemptFailed):
                drained.retried.append(event)
            else:
                assert drained.end is None, "a second StreamEnd"
                drained.end = event
    except ProviderError as exc:
        drained.error = exc
    return drained


def sent_key(recorded: Recorded) -> str | None:
    """The API key a request carried (``Authorization: Bearer`` or ``x-api-key``)."""
    if "x-api-key" in recorded.headers:
        return recorded.headers["x-api-key"]
    authorization = recorded.headers.get("authorization", "")
    return authorization.removeprefix("Bearer ") if authorization else None
