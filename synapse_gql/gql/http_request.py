"""GraphQL requests over HTTP: anything that is not one is a 400 with a GraphQL body.

A request is a JSON object (POST) or query parameters (GET) with a ``query`` string and
optional ``operationName`` (string), ``variables`` and ``extensions`` (objects). JSON is
decoded by orjson, which refuses invalid UTF-8 and nesting over 1024 levels with a clean
error instead of a ``RecursionError``; variable values nested deeper than
``MAX_VARIABLE_DEPTH`` are refused before anything walks them. Responses are encoded by
orjson too.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.responses import JSONResponse, Response
from strawberry.http import GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.types.unset import UNSET

MAX_VARIABLE_DEPTH = 64
CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def bad_request(message: str) -> HTTPException:
    return HTTPException(400, message)


class RequestRefused(Exception):
    """A request refused before it is parsed, answered with ``code`` and ``status``."""

    def __init__(
        self, status: int, message: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def error_response(status: int, message: str) -> JSONResponse:
    """The GraphQL-shaped body of a refused request."""
    code = CODES.get(status, "BAD_REQUEST")
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status)


def nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` has objects or lists nested more than ``limit`` levels deep.

    Iterative, so a deep value cannot exhaust the interpreter's stack."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _object_or_none(data: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = data.get(key)
    if value is not None and not isinstance(value, dict):
        raise bad_request(f"`{key}` must be a JSON object.")
    if value is not None and nested_deeper_than(value, MAX_VARIABLE_DEPTH):
        raise bad_request(f"`{key}` is nested more than {MAX_VARIABLE_DEPTH} levels deep.")
    return value


def request_data(data: Any, protocol: Any) -> GraphQLRequestData:
    """Check the shape of a decoded request; raise a 400 naming what is wrong."""
    if not isinstance(data, dict):
        raise bad_request("A GraphQL request is a JSON object with a `query` string.")
    query = data.get("query")
    if not isinstance(query, str):
        raise bad_request("`query` must be a string holding a GraphQL document.")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise bad_request("`operationName` must be a string.")
    return GraphQLRequestData(
        query=query,
        variables=_object_or_none(data, "variables"),
        operation_name=operation_name,
        extensions=_object_or_none(data, "extensions"),
        protocol=protocol,
    )


def _mime_type(header: str) -> str:
    """The media type of a ``Content-Type`` header (parameters aside), read as Strawberry's
    parser does for the usual headers, without building an email message for it."""
    media_type = header.partition(";")[0].strip()
    if '"' in media_type or "(" in media_type:  # quoted or commented: the full parser
        media_type, _ = parse_content_type(header)
    return media_type


def _may_stream(accept: str | None) -> bool:
    """Whether ``Accept`` may ask for a streamed answer (multipart or server-sent events);
    Strawberry's check of each transport runs only then."""
    if not accept:
        return False
    accept = accept.lower()
    return "multipart/mixed" in accept or "text/event-stream" in accept


def _json_bytes(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:  # integers beyond 64 bits in a ``JSON`` value
        return json.dumps(data, separators=(",", ":")).encode()


class GraphQLRequestParsing:
    """Request parsing for the GraphQL router: put it before the router in the bases.

    Replaces Strawberry's JSON decoding and request checks (which answer 500 for a body
    such as ``null`` or ``[]``) and turns every refusal into a GraphQL-shaped body."""

    def decode_json(self, data: str | bytes) -> object:
        # orjson.JSONDecodeError is a json.JSONDecodeError: Strawberry answers it with 400.
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        """Responses, streamed results and WebSocket messages, by orjson (the stdlib's
        encoder for what orjson refuses: integers beyond 64 bits in a ``JSON`` value). Text,
        not bytes: the WebSocket adapter sends bytes as binary frames, which GraphQL
        WebSocket clients do not read."""
        try:
            return orjson.dumps(data).decode()
        except orjson.JSONEncodeError:
            return json.dumps(data, separators=(",", ":"))

    def create_response(self, response_data: Any, sub_response: Any) -> Response:
        """The JSON response, encoded once, straight to bytes."""
        response = Response(
            _json_bytes(response_data),
            media_type="application/json",
            status_code=sub_response.status_code or 200,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        return response

    async def parse_http_body(self, request: Any) -> GraphQLRequestData:
        content_type = _mime_type(request.content_type or "")
        if request.method == "GET":
            data = self.parse_query_params(request.query_params)  # type: ignore[attr-defined]
        elif "application/json" in content_type:
            data = self.parse_json(await request.get_body())  # type: ignore[attr-defined]
        else:
            raise bad_request("Send the request as `application/json`.")
        transport = None
        if _may_stream(request.headers.get("accept")):
            transport = self._get_stream_transport_from_headers(request.headers)  # type: ignore[attr-defined]
        data = await self.resolve_document(data)
        return request_data(data, transport.protocol if transport else "http")

    async def resolve_document(self, data: Any) -> Any:
        """Fill in the document of a request that names it instead of sending it (a
        persisted query); this base sends requests on unchanged."""
        return data

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)  # type: ignore[misc]
        except HTTPException as error:
            return error_response(error.status_code, error.reason)
        except RequestRefused as refused:
            return refused.response()
