"""The one realtime publisher: typed events (:mod:`~synapse_gql.realtime.events`), published
only after the transaction that wrote their rows commits, dropped on rollback.

:func:`publisher_for` gives the process's publisher of a broadcaster (one per broadcaster, so
every committed event goes out in commit order). :meth:`AfterCommitPublisher.publish` queues
an event on a session; :meth:`AfterCommitPublisher.sent` waits until what that session
committed is out; :meth:`AfterCommitPublisher.announce` publishes news of rows already
committed (by a transaction that queued nothing); :meth:`AfterCommitPublisher.send` publishes
a command that concerns no row (a stop request), raising when it cannot.

:class:`AfterCommitPublisher` queues ``(channel, message)`` pairs on a session (in
``session.info``, as :class:`PendingEvents`) and hooks that session's SQLAlchemy events:

* ``after_commit`` of the outermost transaction schedules one task (on the running loop)
  that publishes the transaction's events in order, together (with Redis one pipelined
  round trip per commit, not one per event); the publisher keeps a reference to
  every task until it ends, and :meth:`AfterCommitPublisher.drain` awaits them;
* ``after_commit`` of a SAVEPOINT (``begin_nested``) hands its events to the enclosing
  transaction, and ``after_rollback`` of a SAVEPOINT drops the events queued inside it;
* ``after_rollback`` of the outermost transaction, or its end without a commit (closing the
  session), drops everything queued.

Subscribers therefore never hear of rows they cannot read yet, nor of rows that never were.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from synapse_gql.realtime.broadcaster import Broadcaster
from synapse_gql.realtime.events import AnyEvent, encode

log = logging.getLogger(__name__)

SENT = "sent"


@dataclass(frozen=True)
class PendingEvent:
    """One publication waiting for its transaction; ``savepoint`` None is the outermost."""

    channel: str
    message: str | bytes
    savepoint: SessionTransaction | None


@dataclass
class PendingEvents:
    """The publications queued on one session and not yet committed or dropped."""

    items: list[PendingEvent] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, channel: str, message: str | bytes, savepoint: SessionTransaction | None) -> None:
        """Queue a publication owned by ``savepoint`` (None: the outermost transaction)."""
        self.items.append(PendingEvent(channel, message, savepoint))

    def take(self) -> list[tuple[str, str | bytes]]:
        """Remove and return every queued ``(channel, message)`` pair, oldest first."""
        taken = [(item.channel, item.message) for item in self.items]
        self.items.clear()
        return taken

    def clear(self) -> None:
        """Drop everything queued."""
        self.items.clear()

    def release(self, savepoint: SessionTransaction) -> None:
        """``savepoint`` committed: its events now belong to the enclosing transaction."""
        parent = _enclosing_savepoint(savepoint)
        self.items = [
            PendingEvent(i.channel, i.message, parent) if i.savepoint is savepoint else i
            for i in self.items
        ]

    def discard(self, savepoint: SessionTransaction) -> None:
        """``savepoint`` rolled back: drop the events queued inside it (or nested in it)."""
        self.items = [i for i in self.items if not _inside(i.savepoint, savepoint)]


def _enclosing_savepoint(transaction: SessionTransaction) -> SessionTransaction | None:
    """The nearest SAVEPOINT around ``transaction``, or None for the outermost one."""
    parent = transaction.parent
    while parent is not None and not parent.nested:
        parent = parent.parent
    return parent


def _inside(owner: SessionTransaction | None, savepoint: SessionTransaction) -> bool:
    """True when ``owner`` is ``savepoint`` or a transaction nested in it."""
    while owner is not None:
        if owner is savepoint:
            return True
        owner = owner.parent
    return False


class AfterCommitPublisher:
    """Queues publications on sessions and publishes them once their transaction commits."""

    def __init__(self, broadcaster: Broadcaster) -> None:
        self._broadcaster = broadcaster
        self._tasks: set[asyncio.Task[None]] = set()
        self._order = asyncio.Lock()

    @property
    def in_flight(self) -> int:
        """Publication tasks started after a commit and not finished yet."""
        return len(self._tasks)

    def publish(
        self, session: AsyncSession | Session, channel: str, message: AnyEvent | str | bytes
    ) -> None:
        """Publish ``message`` to ``channel`` after ``session``'s transaction commits."""
        sync = _sync(session)
        payload = message if isinstance(message, str | bytes) else encode(message)
        self.pending(sync).add(channel, payload, sync.get_nested_transaction())

    async def sent(self, session: AsyncSession | Session) -> None:
        """Wait until the events ``session`` committed so far are published."""
        tasks = _sync(session).info.pop((self, SENT), [])
        if tasks:
            await asyncio.wait(tasks)

    async def announce(self, publications: Sequence[tuple[str, AnyEvent]]) -> None:
        """Publish news of committed rows now, in order after earlier commits' events; a
        failure is logged, never raised (subscribers catch up from the rows)."""
        if publications:
            await self._send([(channel, encode(event)) for channel, event in publications])

    async def send(self, channel: str, event: AnyEvent) -> None:
        """Publish ``event`` now (no transaction involved); raises when it cannot."""
        await self._broadcaster.publish(channel, encode(event))

    def pending(self, session: Session) -> PendingEvents:
        """The events queued on ``session`` by this publisher (hooking it on first use)."""
        pending = session.info.get(self)
        if pending is None:
            pending = session.info[self] = PendingEvents()
            event.listen(session, "after_commit", self._after_commit)
            event.listen(session, "after_rollback", self._after_rollback)
            event.listen(session, "after_transaction_end", self._after_transaction_end)
        return pending

    async def drain(self) -> None:
        """Wait until every publication scheduled so far has been sent."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    def _after_commit(self, session: Session) -> None:
        pending = self.pending(session)
        savepoint = session.get_nested_transaction()
        if savepoint is not None:
            pending.release(savepoint)
            return
        items = pending.take()
        if items:
            task = self._schedule(items)
            if task is not None:
                session.info.setdefault((self, SENT), []).append(task)

    def _after_rollback(self, session: Session) -> None:
        pending = self.pending(session)
        savepoint = session.get_nested_transaction()
        if savepoint is not None:
            pending.discard(savepoint)
        else:
            pending.clear()

    def _after_transaction_end(self, session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            self.pending(session).clear()

    def _schedule(self, items: list[tuple[str, str | bytes]]) -> asyncio.Task[None] | None:
        """Start publishing ``items`` on the running loop, keeping the task referenced."""
        try:
            task = asyncio.get_running_loop().create_task(self._send(items))
        except RuntimeError:
            log.error("realtime: no running event loop; %d committed events dropped", len(items))
            return None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _send(self, items: list[tuple[str, str | bytes]]) -> None:
        """Publish ``items`` in order, together (Redis: one pipelined round trip per
        commit); commits publish in the order they happened."""
        async with self._order:
            try:
                await self._broadcaster.publish_many(items)
            except Exception:
                channels = sorted({channel for channel, _ in items})
                log.exception("realtime: publishing to %s after commit failed", channels)


def _sync(session: AsyncSession | Session) -> Session:
    return session.sync_session if isinstance(session, AsyncSession) else session


_publishers: weakref.WeakKeyDictionary[Broadcaster, AfterCommitPublisher] = (
    weakref.WeakKeyDictionary()
)


def publisher_for(broadcaster: Broadcaster) -> AfterCommitPublisher:
    """The process's publisher for ``broadcaster`` (one, so events keep commit order)."""
    publisher = _publishers.get(broadcaster)
    if publisher is None:
        publisher = _publishers[broadcaster] = AfterCommitPublisher(broadcaster)
    return publisher
