"""Reading an ``openai`` SDK stream without a pydantic model per chunk, and reusing clients.

The SDK builds a ``ChatCompletionChunk`` (nested pydantic models) for every event it
reads, which is most of what a streamed token costs the server. :func:`chunk_payloads`
reads the same events from the same ``AsyncStream`` (the SDK's request, its retries of
nothing, its SSE decoder and its mapping of timeouts and connection errors) and hands over
each event's JSON as a dict, parsed once with orjson; ``[DONE]`` and in-stream errors are
handled as the SDK handles them.

:class:`ClientCache` keeps one ``AsyncOpenAI`` per key (they share the adapter's pooled
HTTP client), so a call does not build a client and its resources before it sends.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any, cast

import openai
import orjson
from openai._streaming import ServerSentEvent, drain_response_async

CACHED_CLIENTS = 256


async def chunk_payloads(stream: openai.AsyncStream[Any]) -> AsyncGenerator[dict[str, Any], None]:
    """The JSON object of each event of ``stream`` until ``[DONE]``; an error event
    raises ``openai.APIError`` (as iterating the stream would)."""
    response = stream.response
    # An async generator (closed here at once, so its connection is released at once).
    read = cast(AsyncGenerator[ServerSentEvent, None], stream._iter_events())
    async with aclosing(read) as events:
        async for event in events:
            data = event.data
            if data.startswith("[DONE]"):
                if response.http_version == "HTTP/1.1":
                    await drain_response_async(response)  # the connection goes back to the pool
                return
            payload = orjson.loads(data)
            if not isinstance(payload, dict):
                continue
            error = payload.get("error")
            if error:
                message = error.get("message") if isinstance(error, dict) else None
                if not message or not isinstance(message, str):
                    message = "An error occurred during streaming"
                raise openai.APIError(message, response.request, body=error)
            yield payload


class ClientCache:
    """``AsyncOpenAI`` clients by API key, the last ``CACHED_CLIENTS`` used."""

    def __init__(self, build: Callable[[str | None], openai.AsyncOpenAI]) -> None:
        self._build = build
        self._clients: OrderedDict[str | None, openai.AsyncOpenAI] = OrderedDict()

    def get(self, api_key: str | None) -> openai.AsyncOpenAI:
        """The client of ``api_key`` (``None``: the SDK's own key lookup, not cached)."""
        if api_key is None:
            return self._build(None)
        client = self._clients.get(api_key)
        if client is None:
            client = self._clients[api_key] = self._build(api_key)
            if len(self._clients) > CACHED_CLIENTS:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(api_key)
        return client

    def clear(self) -> None:
        """Forget every client (their HTTP client is closed by the adapter)."""
        self._clients.clear()
