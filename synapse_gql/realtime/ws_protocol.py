"""uvicorn's sans-I/O WebSocket protocol, writing the frames of one event-loop turn together.

One delta of an answer watched through 100 subscriptions on one socket is 100 messages on
that socket. uvicorn writes each message to the transport as it is sent: a ``send()``
system call per frame, most of the server's CPU per subscriber and delta. Here a text or
binary message is framed at once into the connection's output buffer (the sans-I/O
``ServerProtocol`` of ``websockets``, which every other write of uvicorn's drains too, so
frames, pings, pongs and the close frame keep their order). The first message of a loop
turn is written at once; those sent after it in the same turn are written together, with
one ``transport.write`` at the end of the turn.

Flow control is uvicorn's: a send waits while the transport is above its high-water mark.
Everything but a plain ``websocket.send`` after the handshake goes to uvicorn's own
``send`` unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState


class CoalescingWebSocketProtocol(WebSocketsSansIOProtocol):
    """:class:`WebSocketsSansIOProtocol` with at most two transport writes per loop turn
    for the messages sent in it (its first at once, the rest at its end)."""

    _flush_handle: asyncio.Handle | None = None

    async def send(self, message: Any) -> None:
        """Frame a ``websocket.send`` message into the output buffer: written at once
        when it is the loop turn's first, else with the others at the turn's end; any
        other message as uvicorn sends it."""
        if not self._framed_later(message):
            await super().send(message)
            return
        await self.writable.wait()
        if self.disconnected:
            raise ClientDisconnected()
        try:
            data = message.get("bytes")
            if data is not None:
                self.conn.send_binary(data)
            else:
                text = message.get("text")
                if text is not None:
                    self.conn.send_text(text.encode())
        except InvalidState:
            raise ClientDisconnected() from None
        if self._flush_handle is None:
            # The turn's first frame leaves now (no added latency for a lone message);
            # those that follow in the same turn wait for the write at its end.
            self._flush_handle = self.loop.call_soon(self._flush)
            self._write_pending()

    def _framed_later(self, message: Any) -> bool:
        return (
            message["type"] == "websocket.send"
            and self.handshake_complete
            and not self.close_sent
            and self.initial_response is None
        )

    def _flush(self) -> None:
        """End of the turn: write what its sends framed after its first write."""
        self._flush_handle = None
        self._write_pending()

    def _write_pending(self) -> None:
        output = self.conn.data_to_send()
        if output and not self.transport.is_closing():
            self.transport.write(b"".join(output))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        super().connection_lost(exc)
