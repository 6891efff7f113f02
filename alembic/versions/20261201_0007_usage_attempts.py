"""usage attempts

Usage rows say which counts were estimated (input, output) and which attempt of a call
they meter: retried attempts get rows of their own. Existing estimated rows had both
counts made locally.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for name in ("input_estimated", "output_estimated"):
        op.add_column(
            "usage_logs",
            sa.Column(name, sa.Boolean(), server_default=sa.text("false"), nullable=False),
        )
    op.add_column(
        "usage_logs",
        sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.execute(
        "UPDATE usage_logs SET input_estimated = true, output_estimated = true"
        " WHERE tokens_estimated"
    )
    op.create_check_constraint(op.f("ck_usage_logs_attempt_positive"), "usage_logs", "attempt >= 1")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_usage_logs_attempt_positive"), "usage_logs", type_="check")
    for name in ("attempt", "output_estimated", "input_estimated"):
        op.drop_column("usage_logs", name)
