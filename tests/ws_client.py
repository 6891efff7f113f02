"""A GraphQL WebSocket client for the tests, speaking graphql-transport-ws (what Apollo and
graphql-ws use) or the legacy graphql-ws protocol, with the documents of ``schema/``."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets

from tests.gql_client import operation_documents

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
RECEIVE_TIMEOUT = 30.0


class Socket:
    """One authenticated connection; ``subscribe`` starts an operation by name."""

    def __init__(self, ws: Any, protocol: str) -> None:
        self.ws = ws
        self.protocol = protocol
        self._ids = itertools.count(1)
        self._queues: dict[str, asyncio.Queue[dict[str, Any] | None]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            queue = self._queues.get(message.get("id", ""))
            if queue is None:
                continue
            if message["type"] in ("next", "data"):
                await queue.put(message["payload"])
            elif message["type"] == "complete":
                await queue.put(None)
            elif message["type"] == "error":
                await queue.put({"errors": message["payload"]})
                await queue.put(None)
        for queue in self._queues.values():
            await queue.put(None)

    async def start(self, name: str, **variables: Any) -> Operation:
        """Send the subscription ``name`` of ``schema/`` with ``variables``."""
        op_id = str(next(self._ids))
        self._queues[op_id] = asyncio.Queue()
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        payload = {
            "query": operation_documents()[name],
            "variables": variables,
            "operationName": name,
        }
        await self.ws.send(json.dumps({"id": op_id, "type": kind, "payload": payload}))
        return Operation(self, op_id)

    async def stop(self, op_id: str) -> None:
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        await self.ws.send(json.dumps({"id": op_id, "type": kind}))

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


class Operation:
    """The results of one subscription."""

    def __init__(self, socket: Socket, op_id: str) -> None:
        self.socket = socket
        self.id = op_id

    async def next(self, seconds: float = RECEIVE_TIMEOUT) -> dict[str, Any] | None:
        """The next result's data (None once the server completed the operation)."""
        payload = await asyncio.wait_for(self.socket._queues[self.id].get(), seconds)
        if payload is None:
            return None
        assert "errors" not in payload or not payload["errors"], payload
        return payload["data"]

    async def events(self, field: str, seconds: float = RECEIVE_TIMEOUT) -> AsyncIterator[dict]:
        """Each event of ``field`` until the server completes the operation."""
        while (data := await self.next(seconds)) is not None:
            yield data[field]

    async def until_end(self, field: str, seconds: float = RECEIVE_TIMEOUT) -> list[dict]:
        """Every event up to and including the first that is not a delta."""
        received = []
        async for event in self.events(field, seconds):
            received.append(event)
            if event["__typename"] != "MessageDelta":
                break
        return received

    async def cancel(self) -> None:
        await self.socket.stop(self.id)


@asynccontextmanager
async def connect(url: str, token: str, protocol: str = TRANSPORT_WS) -> AsyncIterator[Socket]:
    """An acknowledged connection to ``url`` authenticated with ``token``."""
    ws = await websockets.connect(url, subprotocols=[protocol], max_size=None)
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    while True:
        ack = json.loads(await ws.recv())
        if ack["type"] != "ka":
            break
    assert ack["type"] == "connection_ack", ack
    socket = Socket(ws, protocol)
    try:
        yield socket
    finally:
        await socket.close()
