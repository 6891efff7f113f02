"""Keeping the rollups current: ``usage_rollups`` (hour, every dimension),
``usage_rollups_daily`` and ``usage_rollups_monthly`` (day or month, workspace, LLM,
provider). One statement per metered usage row upserts all three, and a rebuild
recomputes them from ``usage_logs`` alone (the migrations' backfill, repairs, benches)."""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from synapse_gql.analytics import histogram
from synapse_gql.models.analytics import COARSE_ROLLUP_DIMENSIONS, ROLLUP_DIMENSIONS, ROLLUP_KEY

_DIMENSIONS = ", ".join(ROLLUP_DIMENSIONS)
_MEASURES = (
    "calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost,"
    " latency_ms_sum, latency_hist, ttft_hist"
)
_SOURCE_DIMENSIONS = (
    "workspace_id, date_trunc('hour', created_at, 'UTC'), llm_id, provider, project_id,"
    " user_id, agent_id, api_token_id, status, api_key_source"
)
# The coarse rollups and the unit of their period.
COARSE_ROLLUPS = {"usage_rollups_daily": "day", "usage_rollups_monthly": "month"}
_COARSE_DIMENSIONS = ", ".join(COARSE_ROLLUP_DIMENSIONS)
_COARSE_MEASURES = _MEASURES.replace("calls,", "calls, errors, cancelled,")
_SUMMED = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost",
    "latency_ms_sum",
)


def _one_hot(column: str) -> str:
    """A histogram counting ``column``'s one value (all zeros when it is null)."""
    bucket = f"width_bucket({column}, {histogram.sql_bounds()})"
    size = histogram.SIZE
    return (
        f"CASE WHEN {column} IS NULL THEN array_fill(0, ARRAY[{size}])"
        f" ELSE array_fill(0, ARRAY[{bucket} - 1]) || 1"
        f" || array_fill(0, ARRAY[{size} - {bucket}]) END"
    )


def _increment(table: str, column: str, ms: int | None) -> list[str]:
    if ms is None:
        return []
    index = histogram.bucket_of(ms) + 1
    return [f"{column}[{index}] = {table}.{column}[{index}] + 1"]


def _updates(
    table: str, counted: tuple[str, ...], latency_ms: int | None, ttft_ms: int | None
) -> str:
    """The SET list adding the new row (``excluded``) to an existing rollup row."""
    return ", ".join(
        [
            *(f"{name} = {table}.{name} + excluded.{name}" for name in (*counted, *_SUMMED)),
            *_increment(table, "latency_hist", latency_ms),
            *_increment(table, "ttft_hist", ttft_ms),
        ]
    )


def _upsert_coarse(table: str, unit: str, latency_ms: int | None, ttft_ms: int | None) -> str:
    updates = _updates(table, ("calls", "errors", "cancelled"), latency_ms, ttft_ms)
    measures = _COARSE_MEASURES.removeprefix("calls, ")
    return (
        f"INSERT INTO {table} ({_COARSE_DIMENSIONS}, {_COARSE_MEASURES})"
        f" SELECT workspace_id, date_trunc('{unit}', created_at, 'UTC'), llm_id, provider, 1,"
        f" {measures} FROM used"
        f" ON CONFLICT ON CONSTRAINT uq_{table}_dimensions DO UPDATE SET {updates}"
    )


def _upsert_sql(latency_ms: int | None, ttft_ms: int | None) -> str:
    """One statement: the usage row read once, upserted into every rollup."""
    hourly = _updates("usage_rollups", ("calls",), latency_ms, ttft_ms)
    daily, monthly = (
        _upsert_coarse(table, unit, latency_ms, ttft_ms) for table, unit in COARSE_ROLLUPS.items()
    )
    return (
        "WITH used AS (SELECT *, date_trunc('hour', created_at, 'UTC') AS hour,"
        " (status = 'error')::int AS errors, (status = 'cancelled')::int AS cancelled,"
        " coalesce(latency_ms, 0) AS latency_ms_sum,"
        f" {_one_hot('latency_ms')} AS latency_hist,"
        f" {_one_hot('time_to_first_token_ms')} AS ttft_hist"
        " FROM usage_logs WHERE id = :usage_log_id),"
        f" hourly AS (INSERT INTO usage_rollups ({_DIMENSIONS}, {_MEASURES})"
        f" SELECT {_DIMENSIONS}, 1, {_MEASURES.removeprefix('calls, ')} FROM used"
        f" ON CONFLICT ON CONSTRAINT {ROLLUP_KEY} DO UPDATE SET {hourly}),"
        f" daily AS ({daily}) {monthly}"
    )


async def add_to_rollup(
    session: AsyncSession,
    usage_log_id: uuid.UUID,
    latency_ms: int | None,
    time_to_first_token_ms: int | None,
) -> None:
    """Count one usage row (already flushed) in its hour's, day's and month's rollup rows:
    one statement.

    ``latency_ms`` and ``time_to_first_token_ms`` are the row's, to pick the histogram
    elements to increment."""
    sql = _upsert_sql(latency_ms, time_to_first_token_ms)
    await session.execute(text(sql), {"usage_log_id": usage_log_id})


def _histogram_of(column: str) -> str:
    """The histogram of ``column`` over the group, as a dense int[] (nulls skipped)."""
    bucket = f"width_bucket({column}, {histogram.sql_bounds()})"
    buckets = f"array_agg({bucket}) FILTER (WHERE {column} IS NOT NULL)"
    return (
        f"(SELECT array_agg(coalesce(counted.n, 0)::int ORDER BY slot.i)"
        f" FROM generate_series(1, {histogram.SIZE}) AS slot(i)"
        f" LEFT JOIN (SELECT b, count(*) AS n FROM unnest({buckets}) AS b GROUP BY b) AS counted"
        " ON counted.b = slot.i)"
    )


def rebuild_sql(where: str = "true") -> str:
    """The INSERT … SELECT … GROUP BY that rolls up the usage rows matching ``where``."""
    return (
        f"INSERT INTO usage_rollups ({_DIMENSIONS}, {_MEASURES})"
        f" SELECT {_SOURCE_DIMENSIONS}, count(*), sum(input_tokens), sum(output_tokens),"
        " sum(cache_read_tokens), sum(cache_write_tokens), sum(cost),"
        " coalesce(sum(latency_ms), 0),"
        f" {_histogram_of('latency_ms')}, {_histogram_of('time_to_first_token_ms')}"
        f" FROM usage_logs WHERE {where} GROUP BY {_SOURCE_DIMENSIONS}"
    )


def coarse_rebuild_sql(table: str, where: str = "true") -> str:
    """The INSERT … SELECT … GROUP BY that rolls up the usage rows matching ``where`` into
    the coarse rollup ``table`` (a key of :data:`COARSE_ROLLUPS`)."""
    source = (
        f"workspace_id, date_trunc('{COARSE_ROLLUPS[table]}', created_at, 'UTC'), llm_id, provider"
    )
    return (
        f"INSERT INTO {table} ({_COARSE_DIMENSIONS}, {_COARSE_MEASURES})"
        f" SELECT {source}, count(*), count(*) FILTER (WHERE status = 'error'),"
        " count(*) FILTER (WHERE status = 'cancelled'), sum(input_tokens), sum(output_tokens),"
        " sum(cache_read_tokens), sum(cache_write_tokens), sum(cost),"
        " coalesce(sum(latency_ms), 0),"
        f" {_histogram_of('latency_ms')}, {_histogram_of('time_to_first_token_ms')}"
        f" FROM usage_logs WHERE {where} GROUP BY {source}"
    )


async def rebuild_rollups(conn: AsyncConnection | AsyncSession) -> None:
    """Recompute every rollup row, hourly, daily and monthly, from ``usage_logs`` (in the
    caller's transaction)."""
    await conn.execute(text("DELETE FROM usage_rollups"))
    await conn.execute(text(rebuild_sql()))
    for table in COARSE_ROLLUPS:
        await conn.execute(text(f"DELETE FROM {table}"))
        await conn.execute(text(coarse_rebuild_sql(table)))
