"""usage rollups

Usage rows name the agent of their conversation (backfilled from the conversations), and
``usage_rollups`` sums them per hour, workspace, LLM, provider, project, user,
agent, API token, status, key source, with log-spaced latency and time-to-first-token
histograms (bounds as in synapse_gql/analytics/histogram.py at this revision), backfilled
from the usage rows with one INSERT … SELECT … GROUP BY.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-01 06:20:00
"""

import math
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMENSIONS = (
    "workspace_id, hour, llm_id, provider, project_id, user_id, agent_id, api_token_id,"
    " status, api_key_source"
)
SOURCE_DIMENSIONS = (
    "workspace_id, date_trunc('hour', created_at, 'UTC'), llm_id, provider, project_id,"
    " user_id, agent_id, api_token_id, status, api_key_source"
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


def upgrade() -> None:
    op.add_column("usage_logs", sa.Column("agent_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_usage_logs_agent_id_agents"),
        "usage_logs",
        "agents",
        ["agent_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.execute(
        "UPDATE usage_logs SET agent_id = conversations.agent_id FROM conversations"
        " WHERE conversations.id = usage_logs.conversation_id"
        " AND conversations.agent_id IS NOT NULL"
    )
    op.create_index(
        op.f("ix_usage_logs_agent_id_created_at"), "usage_logs", ["agent_id", "created_at"]
    )
    op.create_table(
        "usage_rollups",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("llm_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("agent_id", sa.Uuid(), nullable=True),
        sa.Column("api_token_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("api_key_source", sa.String(length=32), nullable=False),
        *(
            sa.Column(name, sa.BigInteger(), nullable=False)
            for name in (
                "calls",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
            )
        ),
        sa.Column("cost", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("latency_ms_sum", sa.BigInteger(), nullable=False),
        sa.Column("latency_hist", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.Column("ttft_hist", postgresql.ARRAY(sa.Integer()), nullable=False),
        sa.CheckConstraint(
            "status IN ('success', 'error', 'cancelled')",
            name=op.f("ck_usage_rollups_usage_status"),
        ),
        sa.CheckConstraint(
            "api_key_source IN ('user', 'workspace', 'global', 'none')",
            name=op.f("ck_usage_rollups_api_key_source"),
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_usage_rollups_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_rollups")),
        sa.UniqueConstraint(
            *DIMENSIONS.replace(" ", "").split(","),
            name="uq_usage_rollups_dimensions",
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_usage_rollups_user_id_hour"), "usage_rollups", ["user_id", "hour"])
    op.create_index(op.f("ix_usage_rollups_llm_id_hour"), "usage_rollups", ["llm_id", "hour"])
    op.execute(
        f"INSERT INTO usage_rollups ({DIMENSIONS}, calls, input_tokens, output_tokens,"
        " cache_read_tokens, cache_write_tokens, cost, latency_ms_sum, latency_hist, ttft_hist)"
        f" SELECT {SOURCE_DIMENSIONS}, count(*), sum(input_tokens), sum(output_tokens),"
        " sum(cache_read_tokens), sum(cache_write_tokens), sum(cost),"
        " coalesce(sum(latency_ms), 0),"
        f" {_histogram_of('latency_ms')}, {_histogram_of('time_to_first_token_ms')}"
        f" FROM usage_logs GROUP BY {SOURCE_DIMENSIONS}"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_usage_rollups_llm_id_hour"), table_name="usage_rollups")
    op.drop_index(op.f("ix_usage_rollups_user_id_hour"), table_name="usage_rollups")
    op.drop_table("usage_rollups")
    op.drop_index(op.f("ix_usage_logs_agent_id_created_at"), table_name="usage_logs")
    op.drop_constraint(op.f("fk_usage_logs_agent_id_agents"), "usage_logs", type_="foreignkey")
    op.drop_column("usage_logs", "agent_id")
