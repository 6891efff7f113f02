"""The ``/graphql`` route: HTTP and both WebSocket protocols, authenticated."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from starlette.requests import HTTPConnection
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter

from synapse_gql.accounts.auth import authenticate, bearer_token
from synapse_gql.context import Context
from synapse_gql.errors import Unauthenticated
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


class SynapseGraphQLRouter(GraphQLRouter[Context, None]):
    """Authenticates WebSockets from the connection-init payload (both protocols)."""

    async def on_ws_connect(self, context: Context) -> dict[str, object]:
        try:
            token = _init_token(context.connection_params)
            if token is None:
                raise Unauthenticated("Send `authorization: Bearer <token>` in connection_init.")
            context.viewer = await authenticate(context.state, token)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from None
        return {"userId": str(context.viewer.id) if context.viewer else None}
