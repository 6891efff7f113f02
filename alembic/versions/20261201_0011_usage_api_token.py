"""usage api token

The API token a call was made with, on its usage row (null for access tokens and for
rows written before), so API-token budgets can sum what their token already spent.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("usage_logs", sa.Column("api_token_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_usage_logs_api_token_id_api_tokens"),
        "usage_logs",
        "api_tokens",
        ["api_token_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        op.f("ix_usage_logs_api_token_id_created_at"),
        "usage_logs",
        ["api_token_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_usage_logs_api_token_id_created_at"), table_name="usage_logs")
    op.drop_constraint(
        op.f("fk_usage_logs_api_token_id_api_tokens"), "usage_logs", type_="foreignkey"
    )
    op.drop_column("usage_logs", "api_token_id")
