"""Usage rows for the analytics tests: random (seeded) rows inserted with SQL, the
rollups rebuilt from them, and the plain SQL aggregates a summary must equal."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.analytics.rollups import rebuild_rollups

START = datetime(2026, 3, 1, tzinfo=UTC)
SPAN = timedelta(days=45)

INSERT = text(
    """
INSERT INTO usage_logs (
  id, user_id, workspace_id, project_id, agent_id, api_token_id, llm_id, provider, model_id,
  input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, total_tokens,
  input_price_per_million, output_price_per_million, cost, latency_ms, time_to_first_token_ms,
  status, parameters, api_key_source, created_at
) VALUES (
  :id, :user_id, :workspace_id, :project_id, :agent_id, :api_token_id, :llm_id, :provider,
  'model', :input_tokens, :output_tokens, :cache_read_tokens, :cache_write_tokens,
  :total_tokens, 1, 2, :cost,
  :latency_ms, :ttft, :status, '{}', :api_key_source, :created_at
)
"""
)

# GraphQL group-by name -> usage_logs column.
GROUP_COLUMNS = {
    "MODEL": "llm_id",
    "PROVIDER": "provider",
    "USER": "user_id",
    "PROJECT": "project_id",
    "AGENT": "agent_id",
    "API_TOKEN": "api_token_id",
    "STATUS": "status",
    "KEY_SOURCE": "api_key_source",
}


@dataclass(frozen=True)
class Dimensions:
    """The values the random rows draw from (database ids; None where optional)."""

    workspace_id: uuid.UUID
    users: list[uuid.UUID | None]
    projects: list[uuid.UUID | None]
    agents: list[uuid.UUID | None]
    tokens: list[uuid.UUID | None]
    llms: list[tuple[uuid.UUID, str]]


def _latency(rng: random.Random) -> int:
    return int(rng.lognormvariate(6.5, 1.2))


def random_row(rng: random.Random, dims: Dimensions) -> dict[str, Any]:
    """One usage row somewhere in ``START`` + ``SPAN``."""
    status = rng.choices(["success", "error", "cancelled"], weights=[8, 1, 1])[0]
    latency = None if status == "error" and rng.random() < 0.5 else _latency(rng)
    ttft = None if latency is None or rng.random() < 0.1 else rng.randint(0, latency)
    llm_id, provider = rng.choice(dims.llms)
    tokens = [rng.randint(0, 5000), rng.randint(0, 2000)]
    tokens += [rng.choice([0, 0, rng.randint(0, 3000)]), rng.choice([0, 0, rng.randint(0, 500)])]
    return {
        "id": uuid.uuid4(),
        "user_id": rng.choice(dims.users),
        "workspace_id": dims.workspace_id,
        "project_id": rng.choice(dims.projects),
        "agent_id": rng.choice(dims.agents),
        "api_token_id": rng.choice(dims.tokens),
        "llm_id": llm_id,
        "provider": provider,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cache_read_tokens": tokens[2],
        "cache_write_tokens": tokens[3],
        "total_tokens": sum(tokens),
        "cost": Decimal(rng.randint(0, 10**8)) / Decimal(10**10),
        "latency_ms": latency,
        "ttft": ttft,
        "status": status,
        "api_key_source": rng.choice(["user", "workspace", "global"]),
        "created_at": START + timedelta(seconds=rng.randrange(int(SPAN.total_seconds()))),
    }


async def insert_random_usage(
    engine: AsyncEngine, rng: random.Random, dims: Dimensions, count: int
) -> None:
    """``count`` random usage rows, then the rollups rebuilt from every usage row."""
    rows = [random_row(rng, dims) for _ in range(count)]
    async with engine.begin() as conn:
        await conn.execute(INSERT, rows)
        await rebuild_rollups(conn)


def _percentiles(column: str, alias: str) -> str:
    return (
        f"percentile_disc(0.5) WITHIN GROUP (ORDER BY {column}) AS {alias}_p50,"
        f" percentile_disc(0.95) WITHIN GROUP (ORDER BY {column}) AS {alias}_p95"
    )


async def plain_aggregate(
    engine: AsyncEngine,
    workspace_id: uuid.UUID,
    start: datetime,
    end: datetime,
    granularity: str | None,
    group_by: list[str],
    where: str = "true",
    **params: Any,
) -> list[Any]:
    """The summary's figures by a plain GROUP BY over ``usage_logs`` (one bucket, the
    whole range, when ``granularity`` is None)."""
    keys = ", ".join(["bucket", *(GROUP_COLUMNS[g] for g in group_by)])
    bucket = "CAST(:start AS timestamptz)"
    if granularity is not None:
        bucket = f"date_trunc('{granularity.lower()}', created_at, 'UTC')"
    sql = (
        f"SELECT {bucket} AS bucket,"
        f" {', '.join(GROUP_COLUMNS[g] for g in group_by) + ',' if group_by else ''}"
        " count(*) AS calls, count(*) FILTER (WHERE status = 'error') AS errors,"
        " count(*) FILTER (WHERE status = 'cancelled') AS cancelled,"
        " sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,"
        " sum(cache_read_tokens) AS cache_read_tokens,"
        " sum(cache_write_tokens) AS cache_write_tokens, sum(cost) AS cost,"
        f" {_percentiles('latency_ms', 'latency')},"
        f" {_percentiles('time_to_first_token_ms', 'ttft')}"
        " FROM usage_logs WHERE workspace_id = :w AND created_at >= :start"
        f" AND created_at < :end AND {where} GROUP BY {keys}"
    )
    async with engine.connect() as conn:
        result = await conn.execute(
            text(sql), {"w": workspace_id, "start": start, "end": end, **params}
        )
        return list(result.all())
