"""Test PostgreSQL: the server named by SYNAPSE_TEST_DATABASE_URL, or an embedded one.

A template database is migrated (by Alembic) and seeded once per run; each test gets
its own copy, which PostgreSQL makes in milliseconds."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from synapse_gql import migrations
from synapse_gql.db import Database


class TestServer:
    """Creates and drops databases on the test server."""

    def __init__(self) -> None:
        url = os.environ.get("SYNAPSE_TEST_DATABASE_URL")
        self._embedded = None
        if not url:
            from synapse_gql.embedded import EmbeddedPostgres

            root = Path(tempfile.mkdtemp(prefix="synapse-test-pg-"))
            self._embedded = EmbeddedPostgres(root / "pgdata", delete_on_exit=True)
            url = self._embedded.url("postgres")
        self.admin_url = make_url(url)
        self.prefix = f"synapse_test_{os.getpid()}"

    def url(self, database: str) -> str:
        """SQLAlchemy asyncpg URL of ``database`` on this server."""
        return self.admin_url.set(
            database=database, drivername="postgresql+asyncpg"
        ).render_as_string(hide_password=False)

    def _dsn(self) -> str:
        return self.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(self._dsn())
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def create_template(self) -> str:
        name = f"{self.prefix}_template"
        asyncio.run(self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"'))
        migrations.upgrade(self.url(name))
        asyncio.run(_seed(self.url(name)))
        return name

    def create_empty(self) -> str:
        """A database with nothing in it (for migration tests)."""
        name = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
        asyncio.run(self._admin(f'CREATE DATABASE "{name}"'))
        return name

    async def clone(self, template: str) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:12]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    async def drop(self, name: str) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self, template: str | None) -> None:
        if template:
            asyncio.run(self.drop(template))
        if self._embedded is not None:
            self._embedded.stop()


async def _seed(url: str) -> None:
    from synapse_gql.catalog.service import seed_catalog

    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            await seed_catalog(session)
    finally:
        await db.dispose()
