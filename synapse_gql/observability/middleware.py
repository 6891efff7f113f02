"""The request id of every HTTP request and WebSocket, and the open-sockets gauge.

An incoming ``X-Request-Id`` of 1 to 128 letters, digits, ``-``, ``_``, ``.`` or ``:`` is
kept (a proxy's id joins both logs); anything else is replaced by a fresh id. The id is
returned in the ``X-Request-Id`` response header, carried by every log line of the request
(:mod:`.logging`), by masked errors, and by the request's span.
"""

from __future__ import annotations

import os
import re

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from synapse_gql.observability.logging import REQUEST_ID
from synapse_gql.observability.metrics import WEBSOCKETS_OPEN

HEADER = b"x-request-id"
_WELL_FORMED = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The client's id when well formed, else a new one."""
    for name, value in scope.get("headers") or ():
        if name == HEADER and _WELL_FORMED.fullmatch(value):
            return value.decode()
    return os.urandom(16).hex()  # 32 hex digits, as a UUID's ``hex`` (without the object)


class RequestIdMiddleware:
    """Sets the request id for the request's work and returns it in a header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("http.request.header.x-request-id", request_id)
        try:
            if scope["type"] == "http":
                await self.app(scope, receive, _with_header(send, request_id))
            else:
                await self._socket(scope, receive, send)
        finally:
            REQUEST_ID.reset(token)

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        WEBSOCKETS_OPEN.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            WEBSOCKETS_OPEN.dec()


def _with_header(send: Send, request_id: str) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != HEADER]
            message["headers"] = [*headers, (HEADER, request_id.encode())]
        await send(message)

    return sending
