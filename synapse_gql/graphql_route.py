"""The ``/graphql`` route: HTTP and both WebSocket protocols, authenticated."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

from cross_web import HTTPException as ViewHTTPException
from fastapi import HTTPException, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.unset import UNSET

from synapse_gql.accounts.auth import (
    authenticate,
    authenticate_request,
    bearer_token,
    cached_viewer,
)
from synapse_gql.context import Context, Viewer
from synapse_gql.errors import ErrorCode, Unauthenticated
from synapse_gql.gql.http_request import GraphQLRequestParsing
from synapse_gql.gql.http_subscriptions import HTTPSubscriptions
from synapse_gql.gql.read_connection import ReadConnection
from synapse_gql.gql.relay import to_global_id
from synapse_gql.graphiql.page import LocalGraphiQL
from synapse_gql.metrics.protocols import MetricsGraphQLWSHandler, MetricsTransportWSHandler
from synapse_gql.operations.http import PersistedQueryParsing
from synapse_gql.realtime.sockets import (
    ClosingSafeAdapter,
    SocketRefused,
    admit_current,
    serve_socket,
)
from synapse_gql.state import AppState

BUSY_MESSAGE = "The server is busy; try again shortly."


async def get_context(connection: HTTPConnection) -> AsyncIterator[Context]:
    """A WebSocket's context (a FastAPI dependency): authenticated in connection-init; the
    socket's operations run at once, so each read checks a connection out for itself."""
    yield Context(connection.app.state.synapse, viewer=None, hold_reads=False)


async def http_context(request: Request, response: Response) -> Context:
    """An HTTP request's context; an invalid bearer token is a 401 at once. The request's
    read connection is checked out by its first read (the account's, when the token was
    not checked recently: returned at once, so parsing and validating the document, or a
    mutation's own transaction, hold no connection of the pool meanwhile)."""
    state: AppState = request.app.state.synapse
    reads = ReadConnection(state.db.read_engine)
    try:
        viewer = await _viewer(state, request, reads)
        context = Context(state, viewer=viewer, reads=reads)
    except (TimeoutError, PoolTimeoutError):
        context = BusyContext(state, viewer=None, reads=reads)
    finally:
        await reads.release()
    context.request = request
    context.response = response
    return context


async def request_context(request: Request, response: Response) -> AsyncIterator[Context]:
    """:func:`http_context` as a FastAPI dependency for plain HTTP routes (the invoice CSV):
    the read connection returns to the pool when the route is done; 503 when the caller
    could not be authenticated in time."""
    context = await http_context(request, response)
    if isinstance(context, BusyContext):
        raise HTTPException(status_code=503, detail=BUSY_MESSAGE, headers={"Retry-After": "1"})
    try:
        yield context
    finally:
        await context.reads.release()


class BusyContext(Context):
    """The context of a request whose caller could not be authenticated in time (the
    database pool is exhausted): answered ``TRY_AGAIN`` without running the operation."""


def busy_response() -> JSONResponse:
    """503 with ``Retry-After`` and the GraphQL error ``TRY_AGAIN``."""
    error = {"message": BUSY_MESSAGE, "extensions": {"code": ErrorCode.TRY_AGAIN.value}}
    return JSONResponse({"errors": [error]}, status_code=503, headers={"Retry-After": "1"})


async def _viewer(state: AppState, request: Request, reads: ReadConnection) -> Viewer | None:
    try:
        token = bearer_token(request.headers.get("authorization"))
        viewer = cached_viewer(state, token)
        if viewer is not None:
            return viewer
        async with asyncio.timeout(state.settings.request_wait_seconds):
            return await authenticate_request(state, token, reads)
    except Unauthenticated as error:
        raise HTTPException(
            status_code=401, detail=error.message, headers={"WWW-Authenticate": "Bearer"}
        ) from None


def _init_token(params: Any) -> str | None:
    if not isinstance(params, dict):
        return None
    for key in ("authorization", "Authorization", "authToken", "token"):
        value = params.get(key)
        if isinstance(value, str) and value:
            return bearer_token(value)
    headers = params.get("headers")
    return _init_token(headers) if isinstance(headers, dict) else None


class SynapseGraphQLRouter(
    LocalGraphiQL,
    HTTPSubscriptions,
    PersistedQueryParsing,
    GraphQLRequestParsing,
    GraphQLRouter[Context, None],
):
    """Authenticates WebSockets from the connection-init payload (both protocols); sockets
    are counted, limited and closed when their credentials go (``realtime.sockets``).
    Subscriptions also stream over HTTP (``gql.http_subscriptions``); a request may name its
    document by hash (``operations.http``)."""

    websocket_adapter_class = ClosingSafeAdapter
    # Subscribes of a shared feed (an answer's stream) go to the process's hub, those of
    # live workspace metrics to its metrics groups.
    # (The handlers are Strawberry's, subclassed without their type parameters: the
    # context module cannot be imported where they are defined without an import cycle.)
    graphql_transport_ws_handler_class = cast(
        "type[BaseGraphQLTransportWSHandler[Context, None]]", MetricsTransportWSHandler
    )
    graphql_ws_handler_class = cast(
        "type[BaseGraphQLWSHandler[Context, None]]", MetricsGraphQLWSHandler
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._serve_http_directly()

    def _serve_http_directly(self) -> None:
        """Replace Strawberry's GET and POST routes, which resolve the context through
        FastAPI's dependency injection (a generator dependency, an exit stack and a
        shielded exit per request), by one endpoint that builds the context itself."""
        served = {"GET", "POST"}
        for route in list(self.routes):
            methods = getattr(route, "methods", None) or set()
            if not isinstance(route, APIRoute) or not methods & served:
                continue
            self.routes.remove(route)
            self.add_api_route(
                route.path,
                self.serve_http,
                methods=sorted(methods & served),
                include_in_schema=route.include_in_schema,
                responses=route.responses,
            )

    async def serve_http(self, request: Request, response: Response) -> Any:
        """A GraphQL request over HTTP (GET or POST), GraphiQL's page included."""
        context = await http_context(request, response)
        self.temporal_response = response
        try:
            return await self.run(request, context, None)
        except ViewHTTPException as error:
            return PlainTextResponse(error.reason, status_code=error.status_code)
        finally:
            # The operation returned its connection when it ended; this covers a request
            # refused before any operation ran.
            await context.reads.release()

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if not self.is_websocket_request(request):
            if isinstance(context, BusyContext):
                return busy_response()
            return await super().run(request, context, root_value)
        return await serve_socket(
            request,
            lambda: self.pick_websocket_subprotocol(request),
            lambda: super(SynapseGraphQLRouter, self).run(request, context, root_value),
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object]:
        try:
            token = _init_token(context.connection_params)
            if token is None:
                raise Unauthenticated("Send `authorization: Bearer <token>` in connection_init.")
            context.viewer = await authenticate(context.state, token)
            if context.viewer is not None:
                await admit_current(context.state, context.viewer.id, token)
        except (Unauthenticated, SocketRefused) as error:
            raise ConnectionRejectionError({"message": str(error)}) from None
        return {"userId": to_global_id("User", context.viewer.id) if context.viewer else None}
