"""The public-feedback dataset export at one million messages: rows per second and the
server's peak memory growth while it streams.

```
python -m bench.dataset_export [--conversations 10000] [--messages 100] [--database-url URL]
                               [--reuse] [--core N]
```

It (re)creates the database of ``--database-url`` (default
``postgresql://postgres@127.0.0.1:5432/synapse_bench_datasets``), migrates and seeds it and
fills it with ``generate_series``: one workspace, ``--conversations`` conversations of
``--messages`` messages (user and assistant in turn, about 80 bytes each); in each
conversation every tenth answer is rated (5 in 100 messages), 3 of the 5 ratings public.
``--reuse`` keeps a database a previous run filled. Then it starts this server (a real
process, pinned to ``--core``), asks ``startFeedbackDatasetExport`` for the whole range
and downloads the link, streamed and discarded by the client, while it samples the
server's resident memory (``VmRSS`` every 10 ms, and ``VmHWM`` reset before the download
where the kernel allows it). It prints the lines, bytes, time to the first byte, rows per
second and the growth of the server's resident memory over its level before the download.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from bench.reads import pin_self_away_from
from bench.reads_data import create_database, plain_url
from bench.reads_servers import our_server
from synapse_gql.gql.relay import to_global_id
from synapse_gql.security.keys import Keyring

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/synapse_bench_datasets"
START = "2026-06-01T00:00:00Z"
END = "2026-12-01T00:00:00Z"
OWNER = """
INSERT INTO users (id, email, name, password_hash)
VALUES ($1, 'bench-datasets@example.com', 'Bench', 'not a hash')
"""
WORKSPACE = """
INSERT INTO workspaces (id, name, slug, description, plan, settings, owner_id)
VALUES ($1, 'Datasets bench', 'bench-datasets', '', 'free', '{}', $2)
"""
MEMBER = """
INSERT INTO workspace_members (id, workspace_id, user_id, role)
VALUES (gen_random_uuid(), $1, $2, 'owner')
"""
CONVERSATIONS = """
INSERT INTO conversations (id, workspace_id, title, status, metadata, total_cost, created_at)
SELECT md5('c' || c)::uuid, $1, 'Chat ' || c, 'active', '{}', 0,
       '2026-07-01'::timestamptz + c * interval '1 minute'
FROM generate_series(1, $2) AS c
"""
# $1 conversations, $2 messages each, $3 the answers' model.
MESSAGES = """
INSERT INTO messages (id, conversation_id, role, content, status, llm_id, created_at)
SELECT md5('m' || c || '-' || p)::uuid, md5('c' || c)::uuid,
       CASE WHEN p % 2 = 0 THEN 'user' ELSE 'assistant' END,
       CASE WHEN p % 2 = 0 THEN 'Question ' ELSE 'Answer ' END || p || ' of chat ' || c
         || ': ' || md5(c || '/' || p) || '.',
       'completed', CASE WHEN p % 2 = 1 THEN $3::uuid END,
       '2026-07-01'::timestamptz + c * interval '1 minute' + p * interval '100 ms'
FROM generate_series(1, $1) AS c, generate_series(0, $2 - 1) AS p
"""
# Every tenth answer (message 19, 39, 59, ...) rated by the owner; 3 in 5 public.
FEEDBACK = """
INSERT INTO message_feedback (id, message_id, user_id, rating_type, value, category,
                              improvement_suggestion, is_public, created_at)
SELECT gen_random_uuid(), md5('m' || c || '-' || p)::uuid, $3, 'stars', 1 + (c + p) % 5,
       'helpful', CASE WHEN c % 2 = 0 THEN 'Shorter, please.' END, (p / 20) % 5 IN (0, 2, 4),
       '2026-08-01'::timestamptz + c * interval '1 minute'
FROM generate_series(1, $1) AS c, generate_series(19, $2 - 1, 20) AS p
"""
MUTATION = """
mutation Export($input: StartFeedbackDatasetExportInput!) {
  startFeedbackDatasetExport(input: $input) {
    __typename
    ... on FeedbackDatasetExport { url expiresAt }
    ... on UserError { code message }
  }
}
"""


@dataclass(frozen=True)
class BenchData:
    url: str
    owner_id: uuid.UUID
    workspace_id: uuid.UUID


async def fill(url: str, conversations: int, messages: int) -> BenchData:
    """One owner, one workspace, the conversations, their messages and the ratings."""
    owner, workspace = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(plain_url(url), command_timeout=None)
    try:
        llm = await conn.fetchval("SELECT id FROM llms ORDER BY provider, model_id LIMIT 1")
        async with conn.transaction():
            await conn.execute(OWNER, owner)
            await conn.execute(WORKSPACE, workspace, owner)
            await conn.execute(MEMBER, workspace, owner)
            await conn.execute(CONVERSATIONS, workspace, conversations)
            started = time.perf_counter()
            await conn.execute(MESSAGES, conversations, messages, llm)
            await conn.execute(FEEDBACK, conversations, messages, owner)
            print(f"  filled in {time.perf_counter() - started:.1f}s", flush=True)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return BenchData(url, owner, workspace)


async def filled(url: str) -> BenchData | None:
    """The data of a database a previous run filled, None when there is none."""
    try:
        conn = await asyncpg.connect(plain_url(url))
    except asyncpg.PostgresError:
        return None
    try:
        row = await conn.fetchrow(
            "SELECT id, owner_id FROM workspaces WHERE slug = 'bench-datasets'"
        )
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    return None if row is None else BenchData(url, row["owner_id"], row["id"])


def prepare(args: argparse.Namespace) -> BenchData:
    """Create, migrate, seed and fill the bench database."""
    from synapse_gql import migrations
    from tests.db import _seed

    parsed = make_url(args.database_url)
    server_url = parsed.set(database="postgres").render_as_string(hide_password=False)
    url = create_database(server_url, parsed.database or "synapse_bench_datasets")
    migrations.upgrade(url)
    asyncio.run(_seed(url))
    return asyncio.run(fill(url, args.conversations, args.messages))


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak(pid: int) -> bool:
    """Reset the process's ``VmHWM`` to its current RSS (Linux 4.0+), if allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def _sample_rss(pid: int, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], _status_kib(pid, "VmRSS"))
        await asyncio.sleep(0.01)


async def download(http: httpx.AsyncClient, url: str) -> tuple[int, int, float, float]:
    """Lines, bytes, seconds to the first byte and in all; the body is discarded."""
    lines = size = 0
    started = time.perf_counter()
    first = None
    async with http.stream("GET", url) as response:
        response.raise_for_status()
        async for chunk in response.aiter_raw():
            first = first or time.perf_counter()
            lines += chunk.count(b"\n")
            size += len(chunk)
    ended = time.perf_counter()
    return lines, size, (first or ended) - started, ended - started


async def export_url(http: httpx.AsyncClient, server_url: str, data: BenchData, token: str) -> str:
    variables = {
        "input": {
            "workspaceId": to_global_id("Workspace", data.workspace_id),
            "from": START,
            "to": END,
        }
    }
    response = await http.post(
        server_url,
        json={"query": MUTATION, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    result = response.json()["data"]["startFeedbackDatasetExport"]
    assert result["__typename"] == "FeedbackDatasetExport", result
    return result["url"]


async def counts(url: str) -> str:
    conn = await asyncpg.connect(plain_url(url))
    try:
        messages = await conn.fetchval("SELECT count(*) FROM messages")
        public = await conn.fetchval("SELECT count(*) FROM message_feedback WHERE is_public")
        private = await conn.fetchval("SELECT count(*) FROM message_feedback WHERE NOT is_public")
    finally:
        await conn.close()
    return f"  {messages:,} messages, {public:,} public and {private:,} private ratings"


async def run(args: argparse.Namespace, data: BenchData, work_dir: Path) -> None:
    secret = secrets.token_urlsafe(48)
    token, _ = Keyring(secret).issue_access_token(data.owner_id, timedelta(hours=2))
    print(await counts(data.url), flush=True)
    async with (
        httpx.AsyncClient(timeout=3600) as http,
        our_server(data.url, secret, token, work_dir, args.core) as server,
    ):
        pid = server.process.pid
        for attempt in ("warm-up", "measured"):
            link = await export_url(http, server.url, data, token)
            before = _status_kib(pid, "VmRSS")
            peak, stop = [before], asyncio.Event()
            reset = _reset_peak(pid)
            sampler = asyncio.create_task(_sample_rss(pid, peak, stop))
            lines, size, first, total = await download(http, link)
            stop.set()
            await sampler
            hwm = _status_kib(pid, "VmHWM") if reset else None
            print(
                f"  {attempt}: {lines:,} lines, {size / 2**20:,.1f} MiB in {total:.2f}s"
                f" (first byte {first * 1000:.0f} ms): {lines / total:,.0f} rows/s,"
                f" {size / 2**20 / total:,.1f} MiB/s; server RSS {before / 1024:.1f} MiB"
                f" before, sampled peak +{(peak[0] - before) / 1024:.1f} MiB"
                + ("" if hwm is None else f", VmHWM +{(hwm - before) / 1024:.1f} MiB"),
                flush=True,
            )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=100, help="per conversation")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="dropped and re-created")
    parser.add_argument("--reuse", action="store_true", help="keep a filled database")
    parser.add_argument("--core", type=int, default=None, help="pin the server to this core")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    data = asyncio.run(filled(plain_url(args.database_url))) if args.reuse else None
    if data is None:
        data = prepare(args)
    pin_self_away_from(args.core)
    with tempfile.TemporaryDirectory(prefix="synapse-bench-datasets-") as work:
        asyncio.run(run(args, data, Path(work)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
