"""Responses and WebSocket messages are encoded by orjson: WebSocket messages stay text
frames, and what orjson cannot encode (an integer beyond 64 bits in a JSON value) is
still answered exactly."""

from __future__ import annotations

import json

import websockets

from tests.chat_helpers import served


async def test_a_json_value_beyond_64_bits_is_answered_exactly(
    gql, make_user, make_workspace
) -> None:  # type: ignore[no-untyped-def]
    """Given conversation metadata holding 2**70, when the conversation is created, then
    the answer carries the integer digit for digit."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    metadata = {"big": 2**70, "text": "déjà vu"}
    given = {"workspaceId": workspace["id"], "metadata": metadata}
    data = await gql.op("CreateConversation", owner.token, input=given)
    assert data["createConversation"]["metadata"] == metadata


async def test_websocket_messages_are_text_frames(settings, make_user) -> None:  # type: ignore[no-untyped-def]
    """Given a graphql-transport-ws connection, when the server acknowledges it, then the
    acknowledgement is a text frame (browsers' clients read no binary frames)."""
    owner = await make_user("owner")
    async with served(settings) as server:
        ws = await websockets.connect(server.ws_url, subprotocols=["graphql-transport-ws"])
        try:
            init = {"type": "connection_init", "payload": {"authorization": owner.token}}
            await ws.send(json.dumps(init))
            ack = await ws.recv()
        finally:
            await ws.close()
    assert isinstance(ack, str)
    assert json.loads(ack)["type"] == "connection_ack"
