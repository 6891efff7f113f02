"""A socket's writer: a burst queued at once on a socket that reads is written, in order,
not taken for a slow consumer; a socket whose writes stop is closed with 4408."""

from __future__ import annotations

import asyncio

from starlette.websockets import WebSocketState

from synapse_gql.realtime.fanout.writer import SocketWriter
from synapse_gql.realtime.sockets import SLOW_CONSUMER


class Peer:
    """The server side of a socket as the writer sees it; ``reading`` says whether the
    client reads (a write then returns) or not (it waits, as on a full transport)."""

    def __init__(self, reading: bool) -> None:
        self.application_state = WebSocketState.CONNECTED
        self.reading = asyncio.Event()
        if reading:
            self.reading.set()
        self.written: list[str] = []
        self.closed_with: int | None = None

    async def send_text(self, text: str) -> None:
        await self.reading.wait()
        self.written.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code
        self.application_state = WebSocketState.DISCONNECTED


async def test_a_burst_past_the_hard_bound_on_a_reading_socket_is_written_in_order() -> None:
    """Given a queue bound of 8 (hard bound 32), when 200 frames are queued in one turn on
    a socket that reads, then none is dropped, all are written in order, and the socket
    stays open."""
    peer = Peer(reading=True)
    writer = SocketWriter(peer, limit=8, patience=0.2)  # type: ignore[arg-type]
    frames = [f"frame {n}" for n in range(200)]
    for frame in frames:
        writer.send(frame)
    for _ in range(100):
        if len(peer.written) == len(frames):
            break
        await asyncio.sleep(0.01)
    assert peer.written == frames
    assert (writer.closed, peer.closed_with) == (False, None)
    writer.stop()


async def test_a_socket_whose_writes_stop_is_closed_as_a_slow_consumer() -> None:
    """Given a socket that stops reading, when frames keep coming past the hard bound,
    then once its write has waited for the patience the socket is closed with 4408 and
    later frames are dropped."""
    peer = Peer(reading=False)
    writer = SocketWriter(peer, limit=8, patience=0.2)  # type: ignore[arg-type]
    writer.send("first")  # the writer waits on this one from now on
    await asyncio.sleep(0)
    for n in range(40):
        writer.send(f"frame {n}")
    assert not writer.closed  # past the hard bound, but the write has not waited yet
    await asyncio.sleep(0.3)
    for _ in range(50):
        if peer.closed_with is not None:
            break
        await asyncio.sleep(0.01)
    assert peer.closed_with == SLOW_CONSUMER
    assert writer.closed
    writer.send("late")
    assert writer.pending == 0
