"""Billing events: the workspace ledger (invoices are in ``models.invoices``)."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import (
    Base,
    Money,
    created_ts,
    str_enum,
    uuid_pk,
)


class BillingEventType(enum.Enum):
    USAGE_CHARGE = "usage_charge"
    CREDIT = "credit"
    ADJUSTMENT = "adjustment"


class BillingStatus(enum.Enum):
    PENDING = "pending"
    INVOICED = "invoiced"
    PAID = "paid"
    VOID = "void"


class BillingEvent(Base):
    """One ledger entry for a workspace: a usage charge, a credit or an adjustment.

    The sign of ``amount`` is left to the type (credits and adjustments may be negative).
    """

    __tablename__ = "billing_events"
    __table_args__ = (
        Index(None, "workspace_id", "created_at"),
        Index(None, "invoice_id"),
        Index(None, "usage_log_id"),
        # Deleting a conversation cascades to its messages, each setting this to NULL.
        Index(None, "message_id"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    usage_log_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("usage_logs.id", ondelete="SET NULL")
    )
    message_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("invoices.id", ondelete="SET NULL")
    )
    type: Mapped[BillingEventType] = mapped_column(str_enum(BillingEventType, "billing_event_type"))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    status: Mapped[BillingStatus] = mapped_column(
        str_enum(BillingStatus, "billing_status"), default=BillingStatus.PENDING
    )
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[created_ts]
