"""rate limits

Per-minute limits set on one API token (query cost points, model calls), replacing the
configured defaults for that token.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_token_rate_limits",
        sa.Column("api_token_id", sa.Uuid(), nullable=False),
        sa.Column("points_per_minute", sa.Integer(), nullable=True),
        sa.Column("model_calls_per_minute", sa.Integer(), nullable=True),
        sa.Column("set_by_id", sa.Uuid(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["api_token_id"],
            ["api_tokens.id"],
            name=op.f("fk_api_token_rate_limits_api_token_id_api_tokens"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"],
            ["users.id"],
            name=op.f("fk_api_token_rate_limits_set_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("api_token_id", name=op.f("pk_api_token_rate_limits")),
    )


def downgrade() -> None:
    op.drop_table("api_token_rate_limits")
