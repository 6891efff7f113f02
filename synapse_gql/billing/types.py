"""GraphQL type of billing events."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.context import Info
from synapse_gql.conversations.loaders import MessageLoader
from synapse_gql.gql.refs import MessageRef, WorkspaceRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import BillingEvent, BillingStatus
from synapse_gql.models import BillingEventType as BillingEventKind
from synapse_gql.usage.types import UsageLogType, load_usage_log

strawberry.enum(BillingEventKind, name="BillingEventType")
BillingEventKindType = BillingEventKind
strawberry.enum(BillingStatus, name="BillingStatus")
BillingStatusType = BillingStatus


@strawberry.type(
    name="BillingEvent",
    description="A ledger entry of a workspace: a usage charge, a credit or an adjustment.",
)
class BillingEventType(Node):
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    user_id: strawberry.Private[uuid.UUID | None]
    usage_log_id: strawberry.Private[uuid.UUID | None]
    message_id: strawberry.Private[uuid.UUID | None]
    type: BillingEventKindType
    amount: Decimal = strawberry.field(description="Signed: credits may be negative.")
    currency: str
    status: BillingStatusType
    description: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: BillingEvent) -> BillingEventType:
        return cls(
            id=to_global_id("BillingEvent", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            user_id=row.user_id,
            usage_log_id=row.usage_log_id,
            message_id=row.message_id,
            type=row.type,
            amount=row.amount,
            currency=row.currency,
            status=row.status,
            description=row.description,
            created_at=row.created_at,
        )

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        from synapse_gql.workspaces.types import load_workspace

        return await load_workspace(info, self.workspace_id)

    @strawberry.field(description="Whose call was charged, if any.")
    async def user(self, info: Info) -> UserType | None:
        return await load_user(info, self.user_id)

    @strawberry.field(description="The LLM call charged, if any.")
    async def usage_log(self, info: Info) -> UsageLogType | None:
        return await load_usage_log(info, self.usage_log_id)

    @strawberry.field(description="The message whose call was charged, if any.")
    async def message(self, info: Info) -> MessageRef | None:
        from synapse_gql.conversations.types import MessageType

        if self.message_id is None:
            return None
        row = await MessageLoader(info).one(self.message_id)
        return None if row is None else MessageType.of_row(row)
