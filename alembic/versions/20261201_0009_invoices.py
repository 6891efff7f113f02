"""invoices

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINE_KIND = sa.Enum(
    "model",
    "project",
    "adjustment",
    name="invoice_line_kind",
    native_enum=False,
    create_constraint=True,
    length=32,
)


def upgrade() -> None:
    op.add_column("invoices", sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("invoices", sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "invoice_lines", sa.Column("kind", LINE_KIND, nullable=False, server_default="model")
    )
    op.alter_column("invoice_lines", "kind", server_default=None)
    op.add_column(
        "invoice_lines", sa.Column("position", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("invoice_lines", sa.Column("project_id", sa.Uuid(), nullable=True))
    op.add_column(
        "invoice_lines",
        sa.Column("adjusted_period_start", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "invoice_lines",
        sa.Column("cache_read_tokens", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "invoice_lines",
        sa.Column("cache_write_tokens", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.create_foreign_key(
        op.f("fk_invoice_lines_project_id_projects"),
        "invoice_lines",
        "projects",
        ["project_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_check_constraint(
        op.f("ck_invoice_lines_cache_tokens_non_negative"),
        "invoice_lines",
        "cache_read_tokens >= 0 AND cache_write_tokens >= 0",
    )
    op.create_table(
        "invoice_usage",
        sa.Column("usage_log_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_invoice_usage_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["usage_log_id"],
            ["usage_logs.id"],
            name=op.f("fk_invoice_usage_usage_log_id_usage_logs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("usage_log_id", name=op.f("pk_invoice_usage")),
    )
    op.create_index(
        op.f("ix_invoice_usage_invoice_id"), "invoice_usage", ["invoice_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_invoice_usage_invoice_id"), table_name="invoice_usage")
    op.drop_table("invoice_usage")
    op.drop_constraint(
        op.f("ck_invoice_lines_cache_tokens_non_negative"), "invoice_lines", type_="check"
    )
    op.drop_constraint(
        op.f("fk_invoice_lines_project_id_projects"), "invoice_lines", type_="foreignkey"
    )
    for column in (
        "cache_write_tokens",
        "cache_read_tokens",
        "adjusted_period_start",
        "project_id",
        "position",
    ):
        op.drop_column("invoice_lines", column)
    op.drop_column("invoice_lines", "kind")
    op.drop_column("invoices", "voided_at")
    op.drop_column("invoices", "paid_at")
