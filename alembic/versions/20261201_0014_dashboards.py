"""dashboards

Saved dashboards of a workspace (private to their owner or shared with its members) and
their widgets: a stored GraphQL query with its variables, a chart kind and a cache time.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 06:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHART_KIND = sa.Enum(
    "line",
    "bar",
    "table",
    "number",
    "pie",
    name="chart_kind",
    native_enum=False,
    create_constraint=True,
    length=32,
)


def _stamps() -> list[sa.Column]:
    return [
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "dashboards",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("shared", sa.Boolean(), server_default="false", nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_dashboards_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_dashboards_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboards")),
    )
    op.create_index(
        op.f("ix_dashboards_workspace_id_created_at"), "dashboards", ["workspace_id", "created_at"]
    )
    op.create_table(
        "dashboard_widgets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dashboard_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("variables", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("chart_kind", CHART_KIND, nullable=False),
        sa.Column("cache_seconds", sa.Integer(), server_default="60", nullable=False),
        sa.CheckConstraint(
            "position >= 0", name=op.f("ck_dashboard_widgets_position_non_negative")
        ),
        sa.CheckConstraint(
            "cache_seconds >= 0", name=op.f("ck_dashboard_widgets_cache_seconds_non_negative")
        ),
        sa.CheckConstraint(
            "jsonb_typeof(variables) = 'object'", name=op.f("ck_dashboard_widgets_variables_object")
        ),
        sa.ForeignKeyConstraint(
            ["dashboard_id"],
            ["dashboards.id"],
            name=op.f("fk_dashboard_widgets_dashboard_id_dashboards"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_widgets")),
        sa.UniqueConstraint(
            "dashboard_id", "position", name=op.f("uq_dashboard_widgets_dashboard_id_position")
        ),
    )


def downgrade() -> None:
    op.drop_table("dashboard_widgets")
    op.drop_index(op.f("ix_dashboards_workspace_id_created_at"), table_name="dashboards")
    op.drop_table("dashboards")
