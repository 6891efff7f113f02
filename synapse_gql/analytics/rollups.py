"""Keeping the rollups current: ``usage_rollups`` (hour, every dimension),
``usage_rollups_daily`` and ``usage_rollups_monthly`` (day or month, workspace, LLM,
provider). The rows a transaction metered are added to all three by one statement just
before it commits, and a rebuild recomputes them from ``usage_logs`` alone (the
migrations' backfill, repairs, benches)."""

from __future__ import annotations

import uuid
from functools import cache

from sqlalchemy import TextClause, event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

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


# The session's usage rows to count in the rollups at commit (``session.info``).
_PENDING = "usage_rollups.pending"


def _array_sum(left: str, right: str) -> str:
    """Two histograms (int[] of one size) added element-wise."""
    return (
        f"ARRAY(SELECT a + b FROM unnest({left}, {right}) WITH ORDINALITY AS pair(a, b, i)"
        " ORDER BY i)"
    )


def _added(table: str, counted: tuple[str, ...]) -> str:
    """The SET list adding the new group (``excluded``) to an existing rollup row."""
    return ", ".join(
        [
            *(f"{name} = {table}.{name} + excluded.{name}" for name in (*counted, *_SUMMED)),
            *(
                f"{name} = {_array_sum(f'{table}.{name}', f'excluded.{name}')}"
                for name in ("latency_hist", "ttft_hist")
            ),
        ]
    )


@cache
def _add_statement() -> TextClause:
    """One statement counting the usage rows ``:ids`` (already written) in their hourly,
    daily and monthly rollup rows: grouped as a rebuild groups them, then added to what is
    there. Groups are written in key order, so concurrent commits lock shared rows in one
    order."""
    where = "id = ANY(:ids)"
    hourly = (
        f"{rebuild_sql(where)} ORDER BY {_SOURCE_DIMENSIONS}"
        f" ON CONFLICT ON CONSTRAINT {ROLLUP_KEY}"
        f" DO UPDATE SET {_added('usage_rollups', ('calls',))}"
    )
    daily, monthly = (
        f"{coarse_rebuild_sql(table, where)} ORDER BY 1, 2, 3, 4"
        f" ON CONFLICT ON CONSTRAINT uq_{table}_dimensions"
        f" DO UPDATE SET {_added(table, ('calls', 'errors', 'cancelled'))}"
        for table in COARSE_ROLLUPS
    )
    return text(f"WITH hourly AS ({hourly}), daily AS ({daily}) {monthly}")


def count_at_commit(session: AsyncSession, usage_log_id: uuid.UUID) -> None:
    """Count one usage row (already flushed) in its rollups when ``session``'s transaction
    commits: one statement for every row the transaction metered, sent just before COMMIT.

    The rollup rows are shared by every call of a workspace and model in the hour, day and
    month, so whoever writes them holds their locks until the commit: written last, they
    are held for the commit's own round trip, not for the rest of the metering."""
    pending: list[uuid.UUID] = session.sync_session.info.setdefault(_PENDING, [])
    pending.append(usage_log_id)


@event.listens_for(Session, "before_commit")
def _add_pending(session: Session) -> None:
    """Before the outermost COMMIT: count the transaction's metered rows in the rollups."""
    if session.in_nested_transaction():
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        session.execute(_add_statement(), {"ids": pending})


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended without committing: nothing of it is counted."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


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
