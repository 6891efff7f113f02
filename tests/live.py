"""The app served by a real uvicorn on a loopback port, inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from synapse_gql.realtime.ws_protocol import CoalescingWebSocketProtocol


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serve(
    app: FastAPI | Callable[..., Any], ws: type = CoalescingWebSocketProtocol
) -> AsyncIterator[str]:
    """Yield ``host:port`` while uvicorn serves ``app`` (an ASGI app) with the WebSocket
    protocol ``ws`` (the server's own unless a test instruments it)."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws=ws
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
