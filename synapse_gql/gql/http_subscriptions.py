"""Subscriptions over plain HTTP: multipart (Apollo) and Server-Sent Events (graphql-sse).

A ``POST /graphql`` whose ``Accept`` asks for ``multipart/mixed;subscriptionSpec=1.0``
(what Apollo Client's ``HttpLink`` sends) or ``text/event-stream`` (graphql-sse's "distinct
connections" mode) gets a stream: one part or ``next`` event per GraphQL result, then the
closing boundary or a ``complete`` event. Strawberry encodes both; this module adds what
a WebSocket has and a bare HTTP stream does not:

* the ``Authorization`` header is required (401 without it, as with an invalid token);
* a stream counts against the same per-user and per-address limits as a WebSocket
  (``SYNAPSE_MAX_SOCKETS_PER_USER`` / ``..._PER_ADDRESS``): over one, 429 with a GraphQL
  error ``TOO_MANY_CONNECTIONS`` and ``Retry-After``; it stops counting when the stream
  ends or its client goes away;
* the stream ends when its credentials do: on access news the token is re-authenticated
  (one query, only then), and a timer ends the stream when the token expires. The last
  part is then an ``UNAUTHENTICATED`` error. A subscription's own rights (membership,
  role) are re-checked by the subscription itself (``realtime.guard``), as over WebSocket.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException
from fastapi.responses import JSONResponse
from strawberry.http import GraphQLHTTPResponse
from strawberry.http.streaming import HTTPStreamTransport
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)

from synapse_gql.accounts.auth import authenticate, bearer_token
from synapse_gql.errors import Unauthenticated
from synapse_gql.realtime.channels import user_access_channel
from synapse_gql.realtime.sockets import SocketRefused, registry_of, token_expiry
from synapse_gql.state import AppState

# Both WebSocket protocols and both HTTP streams.
SUBSCRIPTION_PROTOCOLS = (
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
    GRAPHQL_SSE_PROTOCOL,
)
TextStream = Callable[[], AsyncIterator[str]]
_STREAM_CONTEXT = "synapse_stream_context"
TOO_MANY_CONNECTIONS = "TOO_MANY_CONNECTIONS"
# Connections free up when streams end: a client may try again shortly.
RETRY_AFTER_SECONDS = 10


def unauthenticated(message: str) -> HTTPException:
    """A 401 answered before any stream starts."""
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": "Bearer"})


def error_result(message: str) -> GraphQLHTTPResponse:
    """The GraphQL result that ends a stream whose credentials went."""
    return {"errors": [{"message": message, "extensions": {"code": "UNAUTHENTICATED"}}]}


async def credentials_end(state: AppState, user_id: Any, token: str) -> str:
    """Return (the reason) once ``token`` stops being valid: withdrawn or expired."""
    watchers = {
        asyncio.ensure_future(_withdrawn(state, user_id, token)),
        asyncio.ensure_future(_expired(state, token)),
    }
    try:
        done, _ = await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
        return done.pop().result()
    finally:
        for watcher in watchers:
            await _cancel(watcher)


async def _withdrawn(state: AppState, user_id: Any, token: str) -> str:
    async with state.realtime.subscribe(user_access_channel(user_id)) as changes:
        # Once more now that news is heard: a revocation committed between the request's
        # authentication and this subscription would otherwise go unnoticed.
        try:
            await authenticate(state, token)
            async for _ in changes:
                await authenticate(state, token)
        except Unauthenticated as error:
            return error.message
    # Without access news the stream cannot be kept under the viewer's rights.
    return "The stream ended: the server stopped listening for credential changes."


async def _expired(state: AppState, token: str) -> str:
    expires = await token_expiry(state, token)
    if expires is None:
        await asyncio.Event().wait()  # never expires: this watcher never answers
    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()))  # type: ignore[operator]
    return "The token expired: log in again and resubscribe."


async def _cancel(task: asyncio.Future[Any]) -> None:
    if not task.done():
        task.cancel()
    with suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
        await task


def too_many(reason: str) -> JSONResponse:
    """The 429 answered, before any stream starts, to a stream over a connection limit."""
    error = {
        "message": reason,
        "extensions": {"code": TOO_MANY_CONNECTIONS, "retryAfter": RETRY_AFTER_SECONDS},
    }
    return JSONResponse(
        {"data": None, "errors": [error]},
        status_code=429,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def counted(stream: TextStream, release: Callable[[], Awaitable[None]]) -> TextStream:
    """``stream``, released (``release()``) however it ends: finished, failed, or closed
    because the client went away."""

    async def run() -> AsyncGenerator[str, None]:
        try:
            async for chunk in stream():
                yield chunk
        finally:
            await release()

    return run


def ending_with(
    stream: TextStream, end: Callable[[], Awaitable[str]], farewell: Callable[[str], str]
) -> TextStream:
    """``stream``'s chunks until ``end()`` answers: then ``farewell(reason)`` closes it."""

    async def ended() -> AsyncGenerator[str, None]:
        source = stream()
        ending = asyncio.ensure_future(end())
        try:
            while True:
                chunk = asyncio.ensure_future(anext(source))
                await asyncio.wait({chunk, ending}, return_when=asyncio.FIRST_COMPLETED)
                if ending.done():
                    await _cancel(chunk)
                    yield farewell(ending.result())
                    return
                try:
                    yield chunk.result()
                except StopAsyncIteration:
                    return
        finally:
            await _cancel(ending)
            if isinstance(source, AsyncGenerator):
                with suppress(Exception):
                    await source.aclose()

    return ended


class HTTPSubscriptions:
    """Authenticated, credential-bound HTTP streams for the GraphQL router: put it before
    the router in the bases. It serves ``SUBSCRIPTION_PROTOCOLS`` unless told otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subscription_protocols", SUBSCRIPTION_PROTOCOLS)
        super().__init__(*args, **kwargs)

    async def execute_operation(
        self,
        request: Any,
        request_adapter: Any,
        request_data: Any,
        context: Any,
        root_value: Any,
        sub_response: Any,
    ) -> Any:
        if getattr(request_data, "protocol", "http") != "http":
            if context.viewer is None:
                raise unauthenticated("Send `Authorization: Bearer <token>` to subscribe.")
            setattr(request.state, _STREAM_CONTEXT, context)
        return await super().execute_operation(  # type: ignore[misc]
            request, request_adapter, request_data, context, root_value, sub_response
        )

    async def create_streaming_response(
        self, request: Any, stream: TextStream, sub_response: Any, headers: Mapping[str, str]
    ) -> Any:
        context = getattr(request.state, _STREAM_CONTEXT, None)
        transport: HTTPStreamTransport | None = self._get_stream_transport_from_headers(  # type: ignore[attr-defined]
            request.headers
        )
        if context is not None and transport is not None:
            token = bearer_token(request.headers.get("authorization"))
            encode = self.encode_json_string  # type: ignore[attr-defined]

            def farewell(reason: str) -> str:
                return (
                    transport.encode_next(error_result(reason), encode)
                    + transport.encode_complete()
                )

            def end() -> Awaitable[str]:
                return credentials_end(context.state, context.viewer.id, token)  # type: ignore[arg-type]

            stream = ending_with(stream, end, farewell)
            registry = registry_of(request)
            address = request.client.host if request.client else "unknown"
            try:
                held = await registry.hold_stream(address, context.viewer.id)
            except SocketRefused as refused:
                return too_many(refused.reason)
            stream = counted(stream, lambda: registry.release(held))
        return await super().create_streaming_response(request, stream, sub_response, headers)  # type: ignore[misc]
