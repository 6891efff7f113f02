"""The replayable log of a streamed answer: every delta, kept so late subscribers catch up.

Pub/sub keeps nothing, so a subscriber that joins late, or reconnects, reads what it missed
here. Each delta is appended to the log *before* (or in the same round trip as) its
publication, so a subscriber that subscribes first and reads the log second sees every
delta at least once: the ones published before it subscribed are in the log, the others
reach it live; it drops duplicates by sequence number.

* :class:`MemoryStreamLog`: one process (no Redis), a dict of lists; with a journal
  (:mod:`~synapse_gql.realtime.journal`) each delta is also written to a file before it is
  published, so the next process recovers it after a crash.
* :class:`RedisStreamLog`: a Redis list per message (``synapse:stream:<id>``); ``RPUSH``,
  ``EXPIRE`` and the ``PUBLISH`` calls of a delta go in one pipelined round trip, in order.

:meth:`StreamLog.append_batch` takes the next deltas of any number of answers at once (the
delta pumps of every answer streaming in the process hand theirs over together, each token
its own delta): in Redis one pipeline, one round trip, for all of them; in memory no await
at all (:meth:`StreamLog.append_batch_now` does it before returning, from the caller).

Logs are kept ``retention`` seconds after the last delta (Redis: a sliding ``EXPIRE``; in
memory one timer per log, moved forward only when it fires early).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import orjson
from redis.asyncio import Redis

from synapse_gql.realtime.broadcaster import Broadcaster
from synapse_gql.realtime.channels import PREFIX

if TYPE_CHECKING:
    from synapse_gql.realtime.journal import DeltaJournal

Publication = tuple[str, str]
READ_MARGIN = 64


def utf16_length(text: str) -> int:
    """The length of ``text`` in UTF-16 code units, the unit of every stream offset:
    JavaScript, Swift and Kotlin index strings in them (an emoji outside the BMP counts 2)."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def utf16_tail(text: str, offset: int) -> str:
    """``text`` from ``offset`` UTF-16 code units on (offsets fall between whole deltas,
    so never inside a surrogate pair)."""
    if offset <= 0:
        return text
    return text.encode("utf-16-le")[2 * offset :].decode("utf-16-le")


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of an answer: its number (1, 2, 3 ...), where it starts (in UTF-16 code
    units of the answer, see :func:`utf16_length`) and its text."""

    sequence: int
    offset: int
    text: str

    @property
    def end(self) -> int:
        """The offset just past this delta, in UTF-16 code units."""
        return self.offset + utf16_length(self.text)

    def to_json(self) -> str:
        """The compact form kept in the log."""
        return orjson.dumps([self.sequence, self.offset, self.text]).decode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Delta:
        """Read back :meth:`to_json`."""
        sequence, offset, text = orjson.loads(raw)
        return cls(int(sequence), int(offset), str(text))


# The next delta of one answer and where to publish it.
Entry = tuple[uuid.UUID, Delta, Sequence[Publication]]


class StreamLog(Protocol):
    """Append-and-publish, and replay, of the deltas of streamed answers."""

    async def connect(self) -> None:
        """Open connections."""

    async def close(self) -> None:
        """Release connections."""

    async def append(
        self, message_id: uuid.UUID, delta: Delta, publications: Sequence[Publication]
    ) -> None:
        """Log ``delta`` (its sequence must follow the last one), then publish each
        ``(channel, payload)``."""

    async def append_batch(self, entries: Sequence[Entry]) -> None:
        """:meth:`append` of every entry, in order, at once (a message's entries come in
        sequence order)."""

    @property
    def immediate(self) -> bool:
        """True when :meth:`append_batch_now` can append and publish without waiting."""

    def append_batch_now(self, entries: Sequence[Entry]) -> None:
        """:meth:`append_batch` done before returning (only when :attr:`immediate`)."""

    async def read(self, message_id: uuid.UUID, after: int = 0) -> list[Delta]:
        """The logged deltas with a sequence above ``after``, in order."""

    async def discard(self, message_id: uuid.UUID) -> None:
        """The answer is closed (its row has the text): drop what only crash recovery
        needed."""


def log_key(message_id: uuid.UUID) -> str:
    """Redis key of a message's delta log."""
    return f"{PREFIX}:stream:{message_id}"


class MemoryStreamLog:
    """The log of one process; deltas are published through the in-process broadcaster."""

    def __init__(
        self, broadcaster: Broadcaster, retention: float, journal: DeltaJournal | None = None
    ) -> None:
        self._broadcaster = broadcaster
        self._retention = retention
        self._journal = journal
        self._logs: dict[uuid.UUID, list[Delta]] = {}
        # When each log was last appended to, and its expiry timer (set once per log).
        self._touched: dict[uuid.UUID, float] = {}
        self._expiry: dict[uuid.UUID, asyncio.TimerHandle] = {}

    async def connect(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Forget every log (journal files of unclosed answers stay)."""
        for handle in self._expiry.values():
            handle.cancel()
        self._expiry.clear()
        self._touched.clear()
        self._logs.clear()
        if self._journal is not None:
            self._journal.close()

    async def append(
        self, message_id: uuid.UUID, delta: Delta, publications: Sequence[Publication]
    ) -> None:
        """Journal, log, refresh the expiry, publish: nothing is published that a
        process started after a crash would not find."""
        await self.append_batch([(message_id, delta, publications)])

    async def append_batch(self, entries: Sequence[Entry]) -> None:
        """Journal and log every entry, then publish them in order (the in-process
        broadcaster hands each to its subscribers at once: nothing waits)."""
        self._record(entries)
        for _, _, publications in entries:
            for channel, payload in publications:
                await self._broadcaster.publish(channel, payload)

    @property
    def immediate(self) -> bool:
        """True with an in-process broadcaster: publishing is handing over, no I/O."""
        return self._broadcaster.in_process

    def append_batch_now(self, entries: Sequence[Entry]) -> None:
        """:meth:`append_batch` without an await: journal and log every entry, then hand
        each publication to this process's subscribers, in order."""
        self._record(entries)
        self._broadcaster.deliver_now([pub for _, _, pubs in entries for pub in pubs])

    def _record(self, entries: Sequence[Entry]) -> None:
        """Journal and log every entry (before anything of the batch is published)."""
        now = time.monotonic()
        if self._journal is not None:
            self._journal_batch(entries)
        for message_id, delta, _ in entries:
            deltas = self._logs.get(message_id)
            if deltas is None:
                deltas = self._logs[message_id] = []
                self._expire_later(message_id, self._retention)
            deltas.append(delta)
            self._touched[message_id] = now

    def _journal_batch(self, entries: Sequence[Entry]) -> None:
        """One write per answer of the batch (its deltas in order)."""
        assert self._journal is not None
        by_message: dict[uuid.UUID, list[Delta]] = {}
        for message_id, delta, _ in entries:
            by_message.setdefault(message_id, []).append(delta)
        for message_id, deltas in by_message.items():
            self._journal.append_many(message_id, deltas)

    async def read(self, message_id: uuid.UUID, after: int = 0) -> list[Delta]:
        """Deltas numbered above ``after``; from the journal when this process has no log
        of the message (it was streamed by a process that died)."""
        deltas = self._logs.get(message_id)
        if deltas is None and self._journal is not None:
            deltas = await asyncio.to_thread(self._journal.read, message_id)
        return [d for d in deltas or () if d.sequence > after]

    async def discard(self, message_id: uuid.UUID) -> None:
        """Delete the journal file; the log stays for late subscribers until it expires."""
        if self._journal is not None:
            self._journal.discard(message_id)

    def _expire_later(self, message_id: uuid.UUID, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._expiry[message_id] = loop.call_later(delay, self._expire, message_id)

    def _expire(self, message_id: uuid.UUID) -> None:
        """Forget the log once ``retention`` passed since its last delta (else wait more)."""
        left = self._touched.get(message_id, 0.0) + self._retention - time.monotonic()
        if left > 0:
            self._expire_later(message_id, left)
            return
        self._logs.pop(message_id, None)
        self._touched.pop(message_id, None)
        self._expiry.pop(message_id, None)
        if self._journal is not None:
            self._journal.release(message_id)


class RedisStreamLog:
    """The log shared by every process, in Redis lists."""

    def __init__(self, url: str, retention: int) -> None:
        self._client: Redis = Redis.from_url(url, client_name="synapse-gql-streams")
        self._retention = retention

    async def connect(self) -> None:
        """Connections are opened on first use."""

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def append(
        self, message_id: uuid.UUID, delta: Delta, publications: Sequence[Publication]
    ) -> None:
        """``RPUSH`` + ``EXPIRE`` + each ``PUBLISH``, pipelined in one round trip."""
        await self.append_batch([(message_id, delta, publications)])

    async def append_batch(self, entries: Sequence[Entry]) -> None:
        """Every entry's ``RPUSH`` + ``EXPIRE`` + ``PUBLISH`` calls in one pipeline (one
        round trip for all the answers), each delta logged before it is published."""
        if not entries:
            return
        async with self._client.pipeline(transaction=False) as pipe:
            for message_id, delta, publications in entries:
                key = log_key(message_id)
                pipe.rpush(key, delta.to_json())
                pipe.expire(key, self._retention)
                for channel, payload in publications:
                    pipe.publish(channel, payload)
            await pipe.execute()

    @property
    def immediate(self) -> bool:
        """False: every append is a round trip."""
        return False

    def append_batch_now(self, entries: Sequence[Entry]) -> None:
        """Not possible: use :meth:`append_batch`."""
        raise RuntimeError("a Redis stream log appends with a round trip")

    async def read(self, message_id: uuid.UUID, after: int = 0) -> list[Delta]:
        """The deltas numbered above ``after``. The list is read from the index of
        ``after`` less a margin: a delta whose append failed leaves the index of later ones
        lower than their number, never higher, so nothing above ``after`` is skipped."""
        start = max(after - READ_MARGIN, 0)
        raw = await self._client.lrange(log_key(message_id), start, -1)
        deltas = [Delta.from_json(item) for item in raw]
        # An empty window also means lost appends moved later deltas below ``start``.
        if start and (not deltas or deltas[0].sequence > after):
            deltas = [
                Delta.from_json(item)
                for item in await self._client.lrange(log_key(message_id), 0, -1)
            ]
        return [d for d in deltas if d.sequence > after]

    async def discard(self, message_id: uuid.UUID) -> None:
        """Nothing: late subscribers still read the list until it expires."""


def create_stream_log(
    broadcaster: Broadcaster, redis_url: str | None, retention: int, journal_dir: Path | None = None
) -> MemoryStreamLog | RedisStreamLog:
    """The Redis log when ``redis_url`` is set, else the in-process one, journaled to
    ``journal_dir`` when given."""
    if redis_url:
        return RedisStreamLog(redis_url, retention)
    # Imported here: the journal module reads Delta from this one.
    from synapse_gql.realtime.journal import DeltaJournal

    journal = DeltaJournal(journal_dir) if journal_dir is not None else None
    return MemoryStreamLog(broadcaster, retention, journal)
