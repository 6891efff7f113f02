"""Sending an answer's tokens to subscribers as numbered deltas, never holding up the model.

The provider's stream calls :meth:`DeltaPump.push` for each token; one task sends what has
arrived. While a send is in flight the next tokens gather, and go out together as the next
delta, so a fast model is never slowed by the round trip to Redis, and a slow one gets a
delta per token. A failed send is logged and the stream goes on: the text is still in the
message row, from which subscribers catch up when the answer ends.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import suppress

from synapse_gql.realtime import Delta, StreamLog, conversation_channel, message_channel
from synapse_gql.realtime.events import DeltaEvent, encode

log = logging.getLogger(__name__)


class DeltaPump:
    """Numbers, logs and publishes the deltas of one answer (see the module docstring)."""

    def __init__(self, stream_log: StreamLog, message_id: uuid.UUID, conversation_id: uuid.UUID):
        self._log = stream_log
        self._message_id = message_id
        self._channels = (message_channel(message_id), conversation_channel(conversation_id))
        self._pending: list[str] = []
        self._sent: list[str] = []
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.sequence = 0
        self.offset = 0  # UTF-16 code units sent so far (Delta.end counts them)

    @property
    def text(self) -> str:
        """The text sent so far (what ``sequence`` covers)."""
        return "".join(self._sent)

    @property
    def published(self) -> str:
        """All the text given to the pump: what :meth:`close` leaves sent (and stored), so
        an answer stopped mid-stream is metered for exactly that text."""
        return "".join((*self._sent, *self._pending))

    def start(self) -> None:
        """Start the sending task."""
        self._task = asyncio.create_task(self._run(), name=f"synapse-deltas-{self._message_id}")

    def push(self, text: str) -> None:
        """Queue ``text`` for the next delta (returns at once)."""
        if text:
            self._pending.append(text)
            self._wakeup.set()

    async def close(self) -> int:
        """Send what is queued, stop, and return the last sequence number."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await asyncio.shield(self._task)
        return self.sequence

    async def abort(self) -> None:
        """Stop at once, leaving queued text unsent (the row keeps it)."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending:
                await self._send_pending()
            if self._closing:
                return

    async def _send_pending(self) -> None:
        text = "".join(self._pending)
        self._pending.clear()
        delta = Delta(self.sequence + 1, self.offset, text)
        self.sequence, self.offset = delta.sequence, delta.end
        self._sent.append(text)
        payload = encode(DeltaEvent.of(self._message_id, delta))
        try:
            await self._log.append(
                self._message_id, delta, [(channel, payload) for channel in self._channels]
            )
        except Exception:
            log.exception("realtime: delta %d of %s not sent", delta.sequence, self._message_id)
