"""The lease of a generating process: how the others tell that it died.

Each serving process registers a ``generation_workers`` row and renews its ``heartbeat_at``
every ``SYNAPSE_WORKER_HEARTBEAT_SECONDS``; each answer it generates records its id
(``messages.worker_id``). Once the heartbeat is older than ``SYNAPSE_WORKER_LEASE_SECONDS``
any live process closes those answers (:mod:`~synapse_gql.chat.recovery`). At start-up a
process also ends at once the leases of processes of its own host (and PID namespace)
that are no longer running: a server restarted after a crash recovers its predecessor's
answers without waiting for the lease to run out.

The lease is renewed over a connection of its own (outside the request pool), from one
task that does nothing else, so a process busy with requests still renews on time; and a
process never takes its own answers for abandoned (:func:`~synapse_gql.chat.recovery.sweep_stale`
spares them), so a renewal that comes late only matters to the other processes.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from synapse_gql.db import RECYCLE_SECONDS, Database
from synapse_gql.models import GenerationWorker

log = logging.getLogger(__name__)

# Rows of processes gone this long are deleted at start-up (a missing row is an expired
# lease, so this only keeps the table small).
FORGET_AFTER = timedelta(days=1)
# The leases taken in this process (several apps may run in one, e.g. under test).
_OWN: set[uuid.UUID] = set()


def this_host() -> str:
    """The host name, qualified by the PID namespace: PIDs compare only within one."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return socket.gethostname()[:200]
    return f"{socket.gethostname()[:200]}/pidns:{namespace}"


def process_exists(pid: int) -> bool:
    """True when a process ``pid`` runs here (signal 0 checks without sending)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerLease:
    """This process's row in ``generation_workers`` (see the module docstring)."""

    def __init__(self, db: Database, journal: Path | None) -> None:
        # One connection, opened on first use: renewals never wait behind the requests.
        self._engine = create_async_engine(
            db.url, pool_size=1, max_overflow=0, pool_recycle=RECYCLE_SECONDS
        )
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)
        self.id = uuid.uuid4()
        _OWN.add(self.id)
        self.host = this_host()
        self.pid = os.getpid()
        self.journal = journal

    async def renew(self) -> None:
        """Register, or renew the heartbeat (re-registering if the row was deleted)."""
        stmt = (
            insert(GenerationWorker)
            .values(
                id=self.id,
                hostname=self.host,
                pid=self.pid,
                journal_dir=None if self.journal is None else str(self.journal),
            )
            .on_conflict_do_update(index_elements=["id"], set_={"heartbeat_at": func.now()})
        )
        async with self._transaction() as session:
            await session.execute(stmt)

    async def retire(self) -> None:
        """Delete the row (a clean shutdown; this process's answers are closed)."""
        async with self._transaction() as session:
            await session.execute(delete(GenerationWorker).where(GenerationWorker.id == self.id))

    async def close(self) -> None:
        """Close the lease's own connection (at shutdown, after ``retire``)."""
        await self._engine.dispose()

    async def end_dead_neighbours(self) -> int:
        """Delete the rows of processes of this host that no longer run (their answers
        are then closed by the next sweep), and rows gone for a day; how many of the first."""
        async with self._transaction() as session:
            rows = await session.execute(
                select(GenerationWorker.id, GenerationWorker.pid).where(
                    GenerationWorker.hostname == self.host, GenerationWorker.id != self.id
                )
            )
            # A row with our PID not taken here is a predecessor's: the PID was reused.
            dead = [
                worker_id
                for worker_id, pid in rows.all()
                if worker_id not in _OWN and (pid == self.pid or not process_exists(pid))
            ]
            if dead:
                await session.execute(delete(GenerationWorker).where(GenerationWorker.id.in_(dead)))
            await session.execute(
                delete(GenerationWorker).where(
                    GenerationWorker.heartbeat_at < func.now() - FORGET_AFTER
                )
            )
        if dead:
            log.warning("%d process(es) of this host stopped without closing", len(dead))
        return len(dead)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions() as session, session.begin():
            yield session
