"""daily and monthly rollups

``usage_rollups_daily`` and ``usage_rollups_monthly`` sum the usage rows per period (a
day, a calendar month; UTC), workspace, LLM and provider, with the errors and
cancellations counted and the same log-spaced latency and time-to-first-token histograms
as ``usage_rollups`` (bounds as in synapse_gql/analytics/histogram.py at this revision),
each backfilled from the usage rows with one INSERT … SELECT … GROUP BY. Summaries by
time, model and provider read them: at ten million usage rows the hourly rollup over
every dimension is about as large as the rows.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 07:00:00
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = {"usage_rollups_daily": "day", "usage_rollups_monthly": "month"}
COUNTED = (
    "calls",
    "errors",
    "cancelled",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
)


def _bounds() -> list[int]:
    bounds = [0]
    while bounds[-1] < 600_000:
        last = bounds[-1]
        wider = math.floor(last * 1.1) if last >= 20 else last + 1
        bounds.append(max(last + 1, wider))
    return bounds


def _histogram_of(column: str) -> str:
    bounds = _bounds()
    array = "ARRAY[" + ",".join(map(str, bounds)) + "]::int[]"
    buckets = f"array_agg(width_bucket({column}, {array})) FILTER (WHERE {column} IS NOT NULL)"
    return (
        "(SELECT array_agg(coalesce(counted.n, 0)::int ORDER BY slot.i)"
        f" FROM generate_series(1, {len(bounds)}) AS slot(i)"
        f" LEFT JOIN (SELECT b, count(*) AS n FROM unnest({buckets}) AS b GROUP BY b) AS counted"
        " ON counted.b = slot.i)"
    )


def _create(table: str) -> None:
    op.create_table(
        table,
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("period", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("llm_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in COUNTED),
        sa.Column("cost", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("latency_ms_sum", sa.BigInteger(), nullable=False),
        sa.Column("latency_hist", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("ttft_hist", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f(f"fk_{table}_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint(
            "workspace_id", "period", "llm_id", "provider", name=f"uq_{table}_dimensions"
        ),
    )
    op.create_index(op.f(f"ix_{table}_llm_id_period"), table, ["llm_id", "period"])


def _backfill(table: str, unit: str) -> None:
    source = f"workspace_id, date_trunc('{unit}', created_at, 'UTC'), llm_id, provider"
    op.execute(
        f"INSERT INTO {table} (workspace_id, period, llm_id, provider, calls, errors,"
        " cancelled, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost,"
        " latency_ms_sum, latency_hist, ttft_hist)"
        f" SELECT {source}, count(*), count(*) FILTER (WHERE status = 'error'),"
        " count(*) FILTER (WHERE status = 'cancelled'), sum(input_tokens), sum(output_tokens),"
        " sum(cache_read_tokens), sum(cache_write_tokens), sum(cost),"
        " coalesce(sum(latency_ms), 0),"
        f" {_histogram_of('latency_ms')}, {_histogram_of('time_to_first_token_ms')}"
        f" FROM usage_logs GROUP BY {source}"
    )


def upgrade() -> None:
    for table, unit in TABLES.items():
        _create(table)
        _backfill(table, unit)


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(op.f(f"ix_{table}_llm_id_period"), table_name=table)
        op.drop_table(table)
