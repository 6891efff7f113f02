"""alerts

Alerts can be acknowledged and resolved (who and when), carry a severity, and provider
health alerts name their provider. A partial unique index keeps one open (or acknowledged)
episode per workspace, kind and provider, whatever the number of concurrent calls.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KIND_CHECK = "ck_alert_events_alert_kind"
SEVERITY_CHECK = "ck_alert_events_alert_severity"
EPISODE_INDEX = "uq_alert_events_open_episode"
OLD_KINDS = ("spend_threshold", "spend_limit", "provider_errors", "latency_degraded")
NEW_KINDS = ("spend_threshold", "spend_limit", "provider_error_rate", "provider_latency")
SEVERITY_SQL = (
    "CASE WHEN kind IN ('spend_limit', 'provider_error_rate') THEN 'critical' ELSE 'warning' END"
)
RENAMES = {"provider_errors": "provider_error_rate", "latency_degraded": "provider_latency"}


def _kind_check(kinds: Sequence[str]) -> str:
    return "kind IN (" + ", ".join(f"'{k}'" for k in kinds) + ")"


def _rename_kinds(renames: dict[str, str], kinds: Sequence[str]) -> None:
    op.drop_constraint(op.f(KIND_CHECK), "alert_events", type_="check")
    for old, new in renames.items():
        op.execute(f"UPDATE alert_events SET kind = '{new}' WHERE kind = '{old}'")
    op.create_check_constraint(op.f(KIND_CHECK), "alert_events", _kind_check(kinds))


def upgrade() -> None:
    _rename_kinds(RENAMES, NEW_KINDS)
    op.add_column(
        "alert_events",
        sa.Column(
            "severity",
            sa.Enum(
                "warning",
                "critical",
                name="alert_severity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            sa.Computed(SEVERITY_SQL, persisted=True),
            nullable=False,
        ),
    )
    op.add_column("alert_events", sa.Column("provider", sa.String(length=50), nullable=True))
    op.add_column(
        "alert_events", sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("alert_events", sa.Column("acknowledged_by", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_alert_events_acknowledged_by_users"),
        "alert_events",
        "users",
        ["acknowledged_by"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        op.f(EPISODE_INDEX),
        "alert_events",
        ["workspace_id", "kind", "provider"],
        unique=True,
        postgresql_where=sa.text("provider IS NOT NULL AND status IN ('open', 'acknowledged')"),
    )


def downgrade() -> None:
    op.drop_index(op.f(EPISODE_INDEX), table_name="alert_events")
    op.drop_constraint(
        op.f("fk_alert_events_acknowledged_by_users"), "alert_events", type_="foreignkey"
    )
    op.drop_column("alert_events", "acknowledged_by")
    op.drop_column("alert_events", "acknowledged_at")
    op.drop_column("alert_events", "provider")
    op.drop_constraint(op.f(SEVERITY_CHECK), "alert_events", type_="check")
    op.drop_column("alert_events", "severity")
    _rename_kinds({new: old for old, new in RENAMES.items()}, OLD_KINDS)
