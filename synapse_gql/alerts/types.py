"""GraphQL types of alerts: the Alert node, its kind, status and severity, and the inputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.scalars import JSON

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.budgets.loaders import budget_view
from synapse_gql.context import Info
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import AlertEvent, AlertKind, AlertStatus
from synapse_gql.models.budgets import AlertSeverity

if TYPE_CHECKING:
    from synapse_gql.budgets.types import BudgetType

strawberry.enum(
    AlertKind,
    name="AlertKind",
    description="SPEND_THRESHOLD and SPEND_LIMIT: a budget reached a threshold or its limit"
    " (once per budget, threshold and month). PROVIDER_ERROR_RATE and PROVIDER_LATENCY: a"
    " provider's calls in this workspace fail too often or answer too slowly over the"
    " recent window (one episode at a time per provider, resolved when the rule clears).",
)
AlertKindType = AlertKind
strawberry.enum(
    AlertStatus, name="AlertStatus", description="OPEN, then ACKNOWLEDGED and/or RESOLVED."
)
AlertStatusType = AlertStatus
strawberry.enum(
    AlertSeverity,
    name="AlertSeverity",
    description="CRITICAL: a budget's limit reached or a provider failing; else WARNING.",
)
AlertSeverityType = AlertSeverity


@strawberry.type(name="Alert", description="Something in the workspace that needs attention.")
class AlertType(Node):
    db_id: strawberry.Private[uuid.UUID]
    budget_db_id: strawberry.Private[uuid.UUID | None]
    acknowledged_by_id: strawberry.Private[uuid.UUID | None]
    kind: AlertKindType
    status: AlertStatusType
    severity: AlertSeverityType
    message: str
    details: JSON = strawberry.field(
        description="Figures behind the alert: spend and limit, or the window's calls,"
        " errors, error rate and p95 latency (and those that resolved it)."
    )
    provider: str | None = strawberry.field(description="The provider of a health alert.")
    threshold_percent: int | None
    period_start: datetime | None = strawberry.field(
        description="The budget period (month) of a spend alert."
    )
    created_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None

    @classmethod
    def from_row(cls, row: AlertEvent) -> AlertType:
        return cls(
            id=to_global_id("Alert", row.id),
            db_id=row.id,
            budget_db_id=row.budget_id,
            acknowledged_by_id=row.acknowledged_by,
            kind=row.kind,
            status=row.status,
            severity=row.severity,
            message=row.message,
            details=JSON(row.details),
            provider=row.provider,
            threshold_percent=row.threshold_percent,
            period_start=row.period_start,
            created_at=row.created_at,
            acknowledged_at=row.acknowledged_at,
            resolved_at=row.resolved_at,
        )

    @strawberry.field(description="The budget of a spend alert (null once deleted).")
    async def budget(
        self, info: Info
    ) -> Annotated[BudgetType, strawberry.lazy("synapse_gql.budgets.types")] | None:
        from synapse_gql.budgets.types import BudgetType

        if self.budget_db_id is None:
            return None
        view = await budget_view(info, self.budget_db_id)
        return None if view is None else BudgetType.from_view(view)

    @strawberry.field(description="Who acknowledged the alert.")
    async def acknowledged_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.acknowledged_by_id)


@strawberry.input(description="The alert to acknowledge.")
class AcknowledgeAlertInput:
    alert_id: strawberry.ID


@strawberry.input(description="The alert to resolve.")
class ResolveAlertInput:
    alert_id: strawberry.ID
