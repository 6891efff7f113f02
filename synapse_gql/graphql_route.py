"""The ``/graphql`` route: HTTP and both WebSocket protocols, authenticated."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.types.unset import UNSET

from synapse_gql.accounts.auth import authenticate, bearer_token
from synapse_gql.context import Context
from synapse_gql.errors import Unauthenticated
from synapse_gql.gql.http_request import GraphQLRequestParsing
from synapse_gql.gql.http_subscriptions import HTTPSubscriptions
from synapse_gql.gql.relay import to_global_id
from synapse_gql.graphiql.page import LocalGraphiQL
from synapse_gql.operations.http import PersistedQueryParsing
from synapse_gql.realtime.sockets import (
    ClosingSafeAdapter,
    SocketRefused,
    admit_current,
    serve_socket,
)
from synapse_gql.state import AppState


async def get_context(connection: HTTPConnection) -> Context:
    """Build a request's context; an invalid HTTP bearer token is a 401 at once."""
    state: AppState = connection.app.state.synapse
    if connection.scope["type"] == "websocket":
        return Context(state, viewer=None)  # authenticated in connection-init
    try:
        viewer = await authenticate(state, bearer_token(connection.headers.get("authorization")))
    except Unauthenticated as error:
        raise HTTPException(
            status_code=401, detail=error.message, headers={"WWW-Authenticate": "Bearer"}
        ) from None
    return Context(state, viewer=viewer)


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

    websocket_adapter_class = ClosingSafeAdapter  # type: ignore[assignment]

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        if not self.is_websocket_request(request):
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
