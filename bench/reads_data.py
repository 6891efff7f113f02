"""The data of ``bench.reads``: one user, workspaces of conversations and messages, and a
month of usage rows, made with ``generate_series`` in a database of its own.

Every sort key is distinct (workspaces' ``created_at``, conversations' ``last_message_at``,
messages' ``created_at``, usage rows' ``created_at``), so both servers page the same rows
in the same order whatever tie-breaker each adds.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg
from sqlalchemy.engine import make_url

MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DataSize:
    """How many rows the bench makes."""

    workspaces: int
    conversations: int  # per workspace
    messages: int  # per conversation
    usage_rows: int  # in the first workspace, all in one month


FULL = DataSize(workspaces=10, conversations=100, messages=100, usage_rows=100_000)
QUICK = DataSize(workspaces=3, conversations=12, messages=25, usage_rows=1_500)


@dataclass(frozen=True)
class BenchData:
    """What the queries need to name: the user, the first workspace, one conversation."""

    user_id: uuid.UUID
    workspace_id: uuid.UUID
    conversation_id: uuid.UUID
    size: DataSize


def plain_url(url: str) -> str:
    """``url`` without a SQLAlchemy driver suffix, for asyncpg and node-postgres."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_database(server_url: str, name: str) -> str:
    """Drop and create database ``name`` on ``server_url``; the new database's URL."""

    async def recreate() -> None:
        conn = await asyncpg.connect(plain_url(server_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(recreate())
    return make_url(plain_url(server_url)).set(database=name).render_as_string(False)


USERS = """
INSERT INTO users (id, email, name, password_hash)
VALUES ($1, 'bench-reads@example.com', 'Bench', 'not a hash')
"""

WORKSPACES = """
INSERT INTO workspaces (id, name, slug, description, plan, settings, owner_id, created_at)
SELECT gen_random_uuid(), 'Workspace ' || w, 'bench-' || w, '', 'free', '{}', $1,
       $2::timestamptz - w * interval '1 minute'
FROM generate_series(0, $3 - 1) AS w
"""

MEMBERS = """
INSERT INTO workspace_members (id, workspace_id, user_id, role)
SELECT gen_random_uuid(), id, $1, 'owner' FROM workspaces
"""

CONVERSATIONS = """
INSERT INTO conversations (id, workspace_id, title, status, metadata, message_count,
                           total_cost, last_message_at, created_at)
SELECT gen_random_uuid(), w.id, w.name || ' / conversation ' || c, 'active', '{}', $1, 0,
       $2::timestamptz - c * interval '1 second', $3::timestamptz
FROM workspaces AS w, generate_series(0, $4 - 1) AS c
"""

MESSAGES = """
INSERT INTO messages (id, conversation_id, role, content, status, created_at)
SELECT gen_random_uuid(), c.id,
       CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END,
       'Message ' || m || ' of ' || c.title || ': ' || repeat('lorem ipsum ', 8),
       'completed', $1::timestamptz + m * interval '1 second'
FROM conversations AS c, generate_series(0, $2 - 1) AS m
"""

USAGE = """
INSERT INTO usage_logs (id, user_id, workspace_id, llm_id, provider, model_id,
                        input_tokens, output_tokens, total_tokens,
                        input_price_per_million, output_price_per_million, cost,
                        latency_ms, status, parameters, api_key_source, created_at)
SELECT gen_random_uuid(), $1, $2, l.id, l.provider, l.model_id,
       100 + u % 900, 50 + u % 400, 150 + u % 900 + u % 400,
       0.15, 0.60, (100 + u % 900) * 0.00000015 + (50 + u % 400) * 0.0000006,
       200 + u % 3000, 'success', '{}', 'global',
       $3::timestamptz + u * ($4::timestamptz - $3::timestamptz) / $5
FROM (SELECT id, provider, model_id FROM llms ORDER BY provider, model_id LIMIT 1) AS l,
     generate_series(0, $5 - 1) AS u
"""


async def fill(url: str, size: DataSize) -> BenchData:
    """Insert the bench's rows into the (migrated, seeded) database at ``url``."""
    user_id = uuid.uuid4()
    conn = await asyncpg.connect(plain_url(url))
    try:
        async with conn.transaction():
            await conn.execute(USERS, user_id)
            await conn.execute(WORKSPACES, user_id, MONTH_START, size.workspaces)
            await conn.execute(MEMBERS, user_id)
            await conn.execute(
                CONVERSATIONS, size.messages, MONTH_END, MONTH_START, size.conversations
            )
            await conn.execute(MESSAGES, MONTH_START, size.messages)
            first = await conn.fetchval(
                "SELECT id FROM workspaces ORDER BY created_at DESC, id DESC LIMIT 1"
            )
            await conn.execute(USAGE, user_id, first, MONTH_START, MONTH_END, size.usage_rows)
        await conn.execute("VACUUM ANALYZE")
        conversation = await conn.fetchval(
            "SELECT id FROM conversations WHERE workspace_id = $1"
            " ORDER BY last_message_at DESC, id DESC LIMIT 1",
            first,
        )
    finally:
        await conn.close()
    return BenchData(user_id, first, conversation, size)


def prepare(server_url: str, name: str, size: DataSize) -> tuple[str, BenchData]:
    """Create, migrate, seed and fill the bench database; its URL and what it holds."""
    from synapse_gql import migrations
    from tests.db import _seed

    url = create_database(server_url, name)
    migrations.upgrade(url)
    asyncio.run(_seed(url))
    return url, asyncio.run(fill(url, size))
