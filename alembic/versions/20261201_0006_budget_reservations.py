"""budget reservations

Budgets become scoped (workspace, project, member, API token; existing rows cover their
workspace), each with a row of spend and open reservations per calendar month, and calls
record what they reserved. Threshold alerts are deduplicated per budget.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(precision=20, scale=10)
SCOPE = sa.Enum(
    "workspace",
    "project",
    "member",
    "api_token",
    name="budget_scope",
    native_enum=False,
    create_constraint=True,
    length=32,
)
OLD_ALERT_KEY = "uq_alert_events_workspace_id_kind_threshold_percent_per_2053"
NEW_ALERT_KEY = "uq_alert_events_budget_id_kind_threshold_percent_period_start"
# This month's charges of each existing (workspace) budget, so its spend carries over.
SEED_USAGE = """
INSERT INTO budget_usage (budget_id, period_start, spent, reserved)
SELECT b.id, timezone('UTC', date_trunc('month', timezone('UTC', now()))),
       coalesce((SELECT sum(e.amount) FROM billing_events e
                 WHERE e.workspace_id = b.workspace_id AND e.type = 'usage_charge'
                   AND e.status <> 'void'
                   AND e.created_at >= timezone('UTC', date_trunc('month', timezone('UTC', now())))
                ), 0),
       0
FROM budgets b
"""


def upgrade() -> None:
    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("budget_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_reservations")),
    )
    op.create_table(
        "budget_usage",
        sa.Column("budget_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("spent", MONEY, nullable=False),
        sa.Column("reserved", MONEY, nullable=False),
        sa.CheckConstraint("reserved >= 0", name=op.f("ck_budget_usage_reserved_non_negative")),
        sa.CheckConstraint("spent >= 0", name=op.f("ck_budget_usage_spent_non_negative")),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name=op.f("fk_budget_usage_budget_id_budgets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("budget_id", "period_start", name=op.f("pk_budget_usage")),
    )
    op.drop_constraint(op.f(OLD_ALERT_KEY), "alert_events", type_="unique")
    op.create_unique_constraint(
        op.f(NEW_ALERT_KEY),
        "alert_events",
        ["budget_id", "kind", "threshold_percent", "period_start"],
    )
    op.add_column("budgets", sa.Column("scope", SCOPE, server_default="workspace", nullable=False))
    op.add_column("budgets", sa.Column("target_id", sa.Uuid(), nullable=True))
    op.create_check_constraint(
        op.f("ck_budgets_target_matches_scope"),
        "budgets",
        "(scope = 'workspace') = (target_id IS NULL)",
    )
    op.drop_constraint(op.f("uq_budgets_workspace_id"), "budgets", type_="unique")
    op.create_unique_constraint(
        op.f("uq_budgets_workspace_id_scope_target_id"),
        "budgets",
        ["workspace_id", "scope", "target_id"],
        postgresql_nulls_not_distinct=True,
    )
    op.execute(SEED_USAGE)


def downgrade() -> None:
    # Only workspace budgets existed before; the others cannot be kept.
    op.execute("DELETE FROM budgets WHERE scope <> 'workspace'")
    op.drop_constraint(op.f("uq_budgets_workspace_id_scope_target_id"), "budgets", type_="unique")
    op.create_unique_constraint(op.f("uq_budgets_workspace_id"), "budgets", ["workspace_id"])
    op.drop_constraint(op.f("ck_budgets_target_matches_scope"), "budgets", type_="check")
    op.drop_column("budgets", "target_id")
    op.drop_column("budgets", "scope")
    op.drop_constraint(op.f(NEW_ALERT_KEY), "alert_events", type_="unique")
    op.execute(
        "DELETE FROM alert_events a USING alert_events b WHERE a.ctid > b.ctid"
        " AND a.workspace_id = b.workspace_id AND a.kind = b.kind"
        " AND a.threshold_percent = b.threshold_percent AND a.period_start = b.period_start"
    )
    op.create_unique_constraint(
        op.f(OLD_ALERT_KEY),
        "alert_events",
        ["workspace_id", "kind", "threshold_percent", "period_start"],
    )
    op.drop_table("budget_usage")
    op.drop_table("budget_reservations")
