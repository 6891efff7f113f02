"""Sending an answer's tokens to subscribers as numbered deltas, never holding up the model.

The provider's stream calls :meth:`DeltaPump.push` for each token. The pumps of every
answer streaming in the process share one :class:`DeltaOutbox` per stream log: a push marks
its pump ready, and one task takes the next delta of every ready pump and hands them to
:meth:`~synapse_gql.realtime.stream_log.StreamLog.append_batch` together (with Redis: one
pipelined round trip for all the answers, not one per delta). While a batch is in flight
the next tokens of each answer gather and go out together in the next batch, each still
its own delta (numbered in order), so a fast model is never slowed by the round trip and
no two tokens are ever merged into one delta. No task is created per delta: the outbox's
task runs while pumps are ready and ends when none is. A log that appends without I/O
(in memory: :attr:`~synapse_gql.realtime.stream_log.StreamLog.immediate`) is handed each
token's delta from :meth:`DeltaPump.push` itself, with no task and no wait for the loop.

A failed send is logged and the stream goes on: the text is still in the message row, from
which subscribers catch up when the answer ends.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import weakref

from synapse_gql.realtime import Delta, StreamLog, conversation_channel, message_channel
from synapse_gql.realtime.events import encode_delta
from synapse_gql.realtime.stream_log import Entry

log = logging.getLogger(__name__)


class DeltaPump:
    """Numbers, logs and publishes the deltas of one answer (see the module docstring)."""

    def __init__(self, stream_log: StreamLog, message_id: uuid.UUID, conversation_id: uuid.UUID):
        self._outbox = outbox_for(stream_log)
        self._message_id = message_id
        self._message_text = str(message_id)
        self._channels = (message_channel(message_id), conversation_channel(conversation_id))
        self._pending: list[str] = []
        self._sent: list[str] = []
        self._in_flight = False
        self._idle: asyncio.Future[None] | None = None
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

    def push(self, text: str) -> None:
        """Queue ``text`` for the next delta (returns at once)."""
        if text:
            self._pending.append(text)
            self._outbox.ready(self)

    async def close(self) -> int:
        """Wait until everything queued is sent, and return the last sequence number."""
        while self._pending or self._in_flight:
            idle = self._idle
            if idle is None or idle.done():
                idle = self._idle = asyncio.get_running_loop().create_future()
            await idle
        return self.sequence

    def take(self) -> list[Entry]:
        """The next deltas (one per text queued, in order) and their publications; they
        are in flight until :meth:`sent`."""
        entries = [self._entry(text) for text in self._pending]
        self._pending.clear()
        self._in_flight = True
        return entries

    def _entry(self, text: str) -> Entry:
        delta = Delta(self.sequence + 1, self.offset, text)
        self.sequence, self.offset = delta.sequence, delta.end
        self._sent.append(text)
        payload = encode_delta(self._message_text, delta)
        return self._message_id, delta, [(channel, payload) for channel in self._channels]

    def sent(self) -> None:
        """The delta taken last is sent (or failed); wake :meth:`close` when all is."""
        self._in_flight = False
        idle = self._idle
        if not self._pending and idle is not None and not idle.done():
            idle.set_result(None)


class DeltaOutbox:
    """Sends the next delta of every ready pump of one stream log at once (see the module
    docstring)."""

    def __init__(self, stream_log: StreamLog) -> None:
        self._log = stream_log
        self._ready: dict[DeltaPump, None] = {}  # an ordered set
        self._task: asyncio.Task[None] | None = None
        self._sending_now = False

    def ready(self, pump: DeltaPump) -> None:
        """``pump`` has text queued: send it with the next batch (at once when the log
        appends without I/O)."""
        self._ready[pump] = None
        if self._task is not None or self._sending_now:
            return
        if self._log.immediate:
            self._drain_now()
        else:
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._drain(), name="synapse-deltas")

    def _drain_now(self) -> None:
        self._sending_now = True  # a push made while delivering joins this loop
        try:
            while self._ready:
                pumps = list(self._ready)
                self._ready.clear()
                self._send_now(pumps)
        finally:
            self._sending_now = False

    async def _drain(self) -> None:
        try:
            while self._ready:
                pumps = list(self._ready)
                self._ready.clear()
                await self._send(pumps)
        finally:
            self._task = None

    async def _send(self, pumps: list[DeltaPump]) -> None:
        """One batch: the next deltas of each of ``pumps``, logged and published together."""
        entries = [entry for pump in pumps for entry in pump.take()]
        try:
            await self._log.append_batch(entries)
        except Exception:
            log.exception("realtime: %d deltas not sent", len(entries))
        finally:
            for pump in pumps:
                pump.sent()

    def _send_now(self, pumps: list[DeltaPump]) -> None:
        """:meth:`_send` before returning, for an immediate log."""
        entries = [entry for pump in pumps for entry in pump.take()]
        try:
            self._log.append_batch_now(entries)
        except Exception:
            log.exception("realtime: %d deltas not sent", len(entries))
        finally:
            for pump in pumps:
                pump.sent()


_outboxes: weakref.WeakKeyDictionary[StreamLog, DeltaOutbox] = weakref.WeakKeyDictionary()


def outbox_for(stream_log: StreamLog) -> DeltaOutbox:
    """The outbox of ``stream_log`` (one per log, shared by all its pumps)."""
    outbox = _outboxes.get(stream_log)
    if outbox is None:
        outbox = _outboxes[stream_log] = DeltaOutbox(stream_log)
    return outbox
