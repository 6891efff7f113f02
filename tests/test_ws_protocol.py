"""The WebSocket protocol the server runs (``realtime.ws_protocol``): of the messages an
app sends in one event-loop turn, the first leaves at once and the rest in one transport
write, in order, the close frame after them; a peer that went away makes a send fail as
uvicorn's would."""
# The burst tests run a bare ASGI app: the handshake, the burst and the close are the
# only writes, so they can be counted.

from __future__ import annotations

import asyncio

import websockets

from synapse_gql.realtime.ws_protocol import CoalescingWebSocketProtocol
from tests.live import serve


class CountingTransport:
    """The protocol's transport, its writes recorded."""

    def __init__(self, transport, writes: list[bytes]) -> None:
        self._transport = transport
        self.writes = writes

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self._transport.write(data)

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


class CountingProtocol(CoalescingWebSocketProtocol):
    """The protocol under test, with every transport write recorded (the handshake's
    response first)."""

    writes: list[bytes] = []

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(CountingTransport(transport, CountingProtocol.writes))


def burst_app(count: int, binary: bool = False):
    async def app(scope, receive, send) -> None:
        assert scope["type"] == "websocket"
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await receive()  # the client's "go"
        for index in range(count):
            if binary:
                await send({"type": "websocket.send", "bytes": index.to_bytes(4, "big")})
            else:
                await send({"type": "websocket.send", "text": f"frame {index}"})
        await asyncio.sleep(0.05)  # later turns: the burst's write is done before the close
        await send({"type": "websocket.close", "code": 4321, "reason": "done"})

    return app


async def received(url: str) -> tuple[list[str | bytes], int | None]:
    messages: list[str | bytes] = []
    # Uncompressed, so the frames can be read in the recorded writes.
    async with websockets.connect(url, compression=None) as socket:
        await socket.send("go")
        try:
            while True:
                messages.append(await socket.recv())
        except websockets.ConnectionClosed:
            return messages, socket.close_code


async def test_a_burst_of_messages_leaves_in_one_write_in_order_before_the_close() -> None:
    """Given an app sending 200 text messages without pausing, then closing, then the
    client gets the 200 in order and the close code, and the messages took two writes:
    the first message at once, the 199 others together."""
    CountingProtocol.writes = []
    async with serve(burst_app(200), CountingProtocol) as address:
        messages, code = await received(f"ws://{address}/")

    assert messages == [f"frame {index}" for index in range(200)]
    assert code == 4321
    handshake, first, rest, _close = CountingProtocol.writes
    assert handshake.startswith(b"HTTP/1.1 101")
    assert first.endswith(b"frame 0")
    assert rest.count(b"frame ") == 199


async def test_binary_messages_are_framed_the_same_way() -> None:
    """Given 50 binary messages, then the client gets the same bytes in order."""
    CountingProtocol.writes = []
    async with serve(burst_app(50, binary=True), CountingProtocol) as address:
        messages, code = await received(f"ws://{address}/")

    assert messages == [index.to_bytes(4, "big") for index in range(50)]
    assert code == 4321
    assert len(CountingProtocol.writes) == 4  # handshake, the first frame, 49 others, close


async def test_a_send_after_the_peer_left_fails_as_a_disconnect() -> None:
    """Given a client that closes its socket at once, when the app keeps sending, then a
    send raises (the app learns the peer is gone) instead of writing forever."""
    outcome: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def app(scope, receive, send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()  # websocket.disconnect
        try:
            for _ in range(1_000):
                await send({"type": "websocket.send", "text": "late"})
                await asyncio.sleep(0)
        except BaseException as error:
            outcome.set_result(error)
            raise
        outcome.set_result(None)

    async with serve(app, CountingProtocol) as address:
        async with websockets.connect(f"ws://{address}/"):
            pass
        error = await asyncio.wait_for(outcome, timeout=30)

    # uvicorn's own answer to a send on a closed socket: ClientDisconnected (an OSError)
    # once the connection is lost, RuntimeError while the close handshake ends.
    assert isinstance(error, OSError | RuntimeError), error
