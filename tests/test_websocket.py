"""WebSocket authentication in connection_init, for both GraphQL protocols."""

from __future__ import annotations

import json

import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from synapse_gql.gql.relay import decode_id
from tests.live import serve

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
ME = "query { me { email } }"


async def _init(url: str, protocol: str, payload: dict) -> tuple[object, dict]:
    ws = await websockets.connect(url, subprotocols=[protocol])
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    return ws, json.loads(await ws.recv())


@pytest.fixture
async def ws_url(app):
    async with serve(app) as address:
        yield f"ws://{address}/graphql"


async def test_transport_ws_authenticates_and_runs_a_query(ws_url, make_user) -> None:
    user = await make_user("socket")
    ws, ack = await _init(ws_url, TRANSPORT_WS, {"authorization": f"Bearer {user.token}"})
    async with ws:
        assert ack["type"] == "connection_ack"
        assert ack["payload"]["userId"] == user.id
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ME}}))
        result = json.loads(await ws.recv())
        assert result["type"] == "next"
        assert result["payload"]["data"]["me"]["email"] == user.email


async def test_legacy_ws_authenticates_the_user(ws_url, make_user) -> None:
    # The legacy protocol carries only subscriptions: the ack names the authenticated user.
    user = await make_user("legacy")
    ws, ack = await _init(ws_url, LEGACY_WS, {"Authorization": f"Bearer {user.token}"})
    async with ws:
        assert ack["type"] == "connection_ack"
        # The global ID, the form every other field that names a user takes.
        assert ack["payload"]["userId"] == user.id
        assert decode_id(ack["payload"]["userId"], "User")


@pytest.mark.parametrize("payload", [{}, {"authorization": "Bearer not-a-token"}])
async def test_transport_ws_rejects_missing_or_bad_token(ws_url, payload) -> None:
    ws = await websockets.connect(ws_url, subprotocols=[TRANSPORT_WS])
    await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4403


async def test_legacy_ws_rejects_bad_token(ws_url) -> None:
    ws, reply = await _init(ws_url, LEGACY_WS, {"authorization": "Bearer nope"})
    async with ws:
        assert reply["type"] == "connection_error"
        assert "invalid" in reply["payload"]["message"].lower()
