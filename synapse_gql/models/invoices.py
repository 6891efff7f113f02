"""Invoices: a workspace's bill for one calendar month (UTC), its lines and the usage
rows it covers."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, created_ts, money, str_enum, timestamp, uuid_pk


class InvoiceStatus(enum.Enum):
    DRAFT = "draft"
    ISSUED = "issued"
    PAID = "paid"
    VOID = "void"


class InvoiceLineKind(enum.Enum):
    """A line per model used in the period, a line per project (the same amounts split
    another way), and a line per model and earlier period for late usage."""

    MODEL = "model"
    PROJECT = "project"
    ADJUSTMENT = "adjustment"


class Invoice(Base):
    """A workspace's bill for one period; at most one invoice per workspace and period.

    ``subtotal`` is the period's usage; ``total`` adds the adjustments for late usage of
    earlier, already issued periods.
    """

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
    paid_at: Mapped[timestamp | None]
    voided_at: Mapped[timestamp | None]
    created_at: Mapped[created_ts]


class InvoiceLine(Base):
    """An invoice's line: the calls, tokens and amount of one model, one project, or one
    model's late usage of an earlier period (``adjusted_period_start``)."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        Index(None, "invoice_id"),
        CheckConstraint(
            "input_tokens >= 0 AND output_tokens >= 0 AND call_count >= 0",
            name="counts_non_negative",
        ),
        CheckConstraint(
            "cache_read_tokens >= 0 AND cache_write_tokens >= 0",
            name="cache_tokens_non_negative",
        ),
    )

    id: Mapped[uuid_pk]
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    kind: Mapped[InvoiceLineKind] = mapped_column(
        str_enum(InvoiceLineKind, "invoice_line_kind"), default=InvoiceLineKind.MODEL
    )
    position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # SET NULL: the description keeps the model's or project's name if the row goes.
    llm_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("llms.id", ondelete="SET NULL"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL")
    )
    adjusted_period_start: Mapped[timestamp | None]
    description: Mapped[str] = mapped_column(String(300))
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    call_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    amount: Mapped[money]


class InvoiceUsage(Base):
    """Which invoice billed a usage row. The primary key on the usage row makes every call
    billed at most once, whichever invoices are generated at the same time."""

    __tablename__ = "invoice_usage"
    __table_args__ = (Index(None, "invoice_id"),)

    usage_log_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("usage_logs.id", ondelete="CASCADE"), primary_key=True
    )
    invoice_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
