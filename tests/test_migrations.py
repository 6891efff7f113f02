"""Alembic is the only way the schema is made: models and migrations must agree."""

from __future__ import annotations

import asyncio

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from synapse_gql import migrations
from synapse_gql.models import Base
from tests.db import TestServer


def _diff_and_tables(url: str) -> tuple[list, set[str]]:
    async def run() -> tuple[list, set[str]]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:

                def inspect_sync(sync_conn):
                    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                    diff = compare_metadata(context, Base.metadata)
                    return diff, set(inspect(sync_conn).get_table_names())

                return await conn.run_sync(inspect_sync)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def empty_database(pg_server: TestServer):
    name = pg_server.create_empty()
    yield pg_server.url(name)
    asyncio.run(pg_server.drop(name))


def test_upgrade_matches_models_exactly(empty_database: str) -> None:
    # Given an empty database, when migrated to head
    migrations.upgrade(empty_database)
    # then autogenerate finds nothing the models have that the migrations lack, or back.
    diff, tables = _diff_and_tables(empty_database)
    assert diff == []
    assert set(Base.metadata.tables) <= tables


def test_downgrade_to_base_and_upgrade_again(empty_database: str) -> None:
    migrations.upgrade(empty_database)
    migrations.downgrade(empty_database, "base")
    _, tables = _diff_and_tables(empty_database)
    assert tables <= {"alembic_version"}

    migrations.upgrade(empty_database)
    diff, tables = _diff_and_tables(empty_database)
    assert diff == []
    assert "usage_logs" in tables


def test_single_head() -> None:
    assert len(migrations.current_heads("postgresql://unused/x")) == 1
