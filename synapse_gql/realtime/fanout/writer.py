"""One socket's outgoing frames: a bounded queue drained by one writer task.

The hub hands every frame to :meth:`SocketWriter.send` and never waits for the socket. A
client that stops reading lets the queue grow; once it has held ``limit`` frames for
``patience`` seconds, or reached ``HARD_FACTOR`` times ``limit`` while the writer has
waited on one write for ``patience`` (at most ``HARD_STALL_SECONDS``), the socket is closed
with ``SLOW_CONSUMER`` (4408): the client reconnects and resumes with ``afterSequence``.

A burst queued at once (a late subscriber's catch-up from the log, many subscriptions of
one socket catching up together) can pass the hard bound on a socket that reads well: it
only counts against the socket when its writes have stopped going through.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import suppress

from starlette.websockets import WebSocket, WebSocketState

from synapse_gql.realtime.sockets import SLOW_CONSUMER

log = logging.getLogger(__name__)

HARD_FACTOR = 4
HARD_STALL_SECONDS = 1.0
SLOW_REASON = "Slow consumer: reconnect and resume with afterSequence."


class SocketWriter:
    """Writes queued text frames to ``websocket`` in order, from one task."""

    def __init__(self, websocket: WebSocket, limit: int, patience: float) -> None:
        self.websocket = websocket
        self.limit = limit
        self.patience = patience
        self.closed = False
        self._frames: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._full_timer: asyncio.TimerHandle | None = None
        self._closing: asyncio.Task[None] | None = None
        self._writing_since: float | None = None  # loop time the current write began
        self._task = asyncio.create_task(self._drain(), name="synapse-socket-writer")

    @property
    def pending(self) -> int:
        """Frames queued and not written yet."""
        return len(self._frames)

    def send(self, frame: str) -> None:
        """Queue ``frame`` (never waits); dropped once the socket is closed."""
        if self.closed:
            return
        self._frames.append(frame)
        self._wakeup.set()
        if len(self._frames) >= self.limit:
            self._note_full()

    def _note_full(self) -> None:
        if len(self._frames) >= self.limit * HARD_FACTOR and self._stalled():
            self.close_slow()
        elif self._full_timer is None:
            loop = asyncio.get_running_loop()
            self._full_timer = loop.call_later(self.patience, self._check_still_full)

    def _stalled(self) -> bool:
        """Whether the writer has waited on one write long enough to call it stuck."""
        since = self._writing_since
        if since is None:
            return False
        waited = asyncio.get_running_loop().time() - since
        return waited >= min(self.patience, HARD_STALL_SECONDS)

    def _check_still_full(self) -> None:
        self._full_timer = None
        if len(self._frames) >= self.limit:
            self.close_slow()

    def close_slow(self) -> None:
        """Drop the queue and close the socket with ``SLOW_CONSUMER``."""
        if self.closed:
            return
        log.warning("realtime: closing a slow socket with %d frames unsent", len(self._frames))
        self.stop()
        self._closing = asyncio.create_task(self._close(SLOW_CONSUMER, SLOW_REASON))

    def stop(self) -> None:
        """Stop writing; queued frames are dropped."""
        self.closed = True
        self._frames.clear()
        if self._full_timer is not None:
            self._full_timer.cancel()
            self._full_timer = None
        self._task.cancel()

    async def _close(self, code: int, reason: str) -> None:
        with suppress(asyncio.CancelledError, Exception):
            await self._task
        if self.websocket.application_state is not WebSocketState.DISCONNECTED:
            with suppress(RuntimeError, OSError):
                await self.websocket.close(code=code, reason=reason)

    async def _drain(self) -> None:
        frames, send = self._frames, self.websocket.send_text
        loop = asyncio.get_running_loop()
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while frames:
                self._writing_since = loop.time()
                try:
                    await send(frames.popleft())
                except Exception:  # the peer went away: the protocol handler ends the socket
                    self.closed = True
                    frames.clear()
                    return
                finally:
                    self._writing_since = None
                if self._full_timer is not None and len(frames) < self.limit:
                    self._full_timer.cancel()
                    self._full_timer = None
