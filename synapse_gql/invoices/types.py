"""GraphQL types of invoices: the Invoice node, its lines and the mutations' inputs."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry

from synapse_gql.catalog.types import LLMType, load_llm
from synapse_gql.context import Info
from synapse_gql.gql.refs import ProjectRef, WorkspaceRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.invoices.periods import name_of
from synapse_gql.models import Invoice, InvoiceLine, InvoiceLineKind, InvoiceStatus

strawberry.enum(
    InvoiceStatus,
    name="InvoiceStatus",
    description="DRAFT (regenerated from the usage log on demand) -> ISSUED (frozen) ->"
    " PAID or VOID.",
)
InvoiceStatusType = InvoiceStatus
strawberry.enum(
    InvoiceLineKind,
    name="InvoiceLineKind",
    description="MODEL: the period's usage of one model. PROJECT: the same usage split by"
    " project (not added to the total again). ADJUSTMENT: one model's usage of an earlier"
    " period metered after that period's invoice was issued.",
)
InvoiceLineKindType = InvoiceLineKind


@strawberry.type(name="InvoiceLine", description="Calls, tokens and amount of one invoice line.")
class InvoiceLineType:
    llm_id: strawberry.Private[uuid.UUID | None]
    project_id: strawberry.Private[uuid.UUID | None]
    kind: InvoiceLineKindType
    description: str = strawberry.field(description="The model's or project's name.")
    adjusted_period: str | None = strawberry.field(
        description="ADJUSTMENT lines: the earlier month (YYYY-MM) the late usage belongs to."
    )
    calls: int
    input_tokens: int = strawberry.field(description="Uncached input tokens.")
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    amount: Decimal = strawberry.field(description="The exact sum of the calls' costs.")

    @classmethod
    def from_row(cls, row: InvoiceLine) -> InvoiceLineType:
        adjusted = row.adjusted_period_start
        return cls(
            llm_id=row.llm_id,
            project_id=row.project_id,
            kind=row.kind,
            description=row.description,
            adjusted_period=None if adjusted is None else name_of(adjusted),
            calls=row.call_count,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            cache_read_tokens=row.cache_read_tokens,
            cache_write_tokens=row.cache_write_tokens,
            amount=row.amount,
        )

    @strawberry.field(description="The model of MODEL and ADJUSTMENT lines.")
    async def llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.llm_id)

    @strawberry.field(description="The project of PROJECT lines; null for calls outside any.")
    async def project(self, info: Info) -> ProjectRef | None:
        from synapse_gql.projects.types import load_project

        return await load_project(info, self.project_id)


@strawberry.type(
    name="Invoice",
    description="A workspace's bill for one calendar month (UTC), from its usage log."
    " `subtotal` is the sum of the MODEL lines (the period's calls); `total` adds the"
    " ADJUSTMENT lines.",
)
class InvoiceType(Node):
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    number: str
    period: str = strawberry.field(description="The month billed, YYYY-MM.")
    period_start: datetime
    period_end: datetime = strawberry.field(description="Exclusive: the next month's start.")
    status: InvoiceStatusType
    currency: str
    subtotal: Decimal
    total: Decimal
    issued_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: Invoice) -> InvoiceType:
        return cls(
            id=to_global_id("Invoice", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            number=row.number,
            period=name_of(row.period_start),
            period_start=row.period_start,
            period_end=row.period_end,
            status=row.status,
            currency=row.currency,
            subtotal=row.subtotal,
            total=row.total,
            issued_at=row.issued_at,
            paid_at=row.paid_at,
            voided_at=row.voided_at,
            created_at=row.created_at,
        )

    @strawberry.field(description="MODEL lines, then PROJECT lines, then ADJUSTMENT lines.")
    async def lines(self, info: Info) -> list[InvoiceLineType]:
        from synapse_gql.invoices.loaders import invoice_lines

        return [InvoiceLineType.from_row(row) for row in await invoice_lines(info, self.db_id)]

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        from synapse_gql.workspaces.types import load_workspace

        return await load_workspace(info, self.workspace_id)


@strawberry.input(description="The workspace and the calendar month (UTC) to invoice.")
class GenerateInvoiceInput:
    workspace_id: strawberry.ID
    period: str = strawberry.field(description="YYYY-MM, e.g. 2026-11; not a future month.")


@strawberry.input(description="The invoice to move to another state.")
class InvoiceActionInput:
    invoice_id: strawberry.ID
