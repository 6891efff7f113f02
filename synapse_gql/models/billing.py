"""Billing events (the ledger) and the invoices that group them."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import (
    Base,
    Money,
    created_ts,
    money,
    str_enum,
    timestamp,
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


class InvoiceStatus(enum.Enum):
    DRAFT = "draft"
    ISSUED = "issued"
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


class Invoice(Base):
    """A workspace's bill for one period; at most one invoice per workspace and period."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("workspace_id", "period_start", "period_end"),
        CheckConstraint("period_end > period_start", name="period_order"),
        CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
    )

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(40), unique=True)
    period_start: Mapped[timestamp]
    period_end: Mapped[timestamp]
    subtotal: Mapped[money]
    total: Mapped[money]
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    status: Mapped[InvoiceStatus] = mapped_column(
        str_enum(InvoiceStatus, "invoice_status"), default=InvoiceStatus.DRAFT
    )
    issued_at: Mapped[timestamp | None]
    created_at: Mapped[created_ts]


class InvoiceLine(Base):
    """An invoice's line item, one per model used in the period."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        Index(None, "invoice_id"),
        CheckConstraint(
            "input_tokens >= 0 AND output_tokens >= 0 AND call_count >= 0",
            name="counts_non_negative",
        ),
    )

    id: Mapped[uuid_pk]
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    # SET NULL: the description keeps the model's name if the catalog row goes.
    llm_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("llms.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(String(300))
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    call_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    amount: Mapped[money]
