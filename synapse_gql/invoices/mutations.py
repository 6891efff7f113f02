"""Invoice mutations (workspace admins and owners): generateInvoice, issueInvoice,
markInvoicePaid and voidInvoice."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.invoices import service
from synapse_gql.invoices.periods import parse_period
from synapse_gql.invoices.types import GenerateInvoiceInput, InvoiceActionInput, InvoiceType
from synapse_gql.models import Invoice

InvoiceResult = Annotated[InvoiceType | UserError, strawberry.union("InvoiceResult")]
Transition = Callable[[AsyncSession, uuid.UUID, uuid.UUID], Awaitable[Invoice]]


async def _transition(info: Info, input: InvoiceActionInput, move: Transition) -> InvoiceType:
    viewer = info.context.require_viewer()
    invoice_id = decode_id(input.invoice_id, "Invoice", field=service.INVOICE_PATH)
    async with info.context.state.db.transaction() as session:
        invoice = await move(session, viewer.id, invoice_id)
    return InvoiceType.from_row(invoice)


@strawberry.type
class InvoiceMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="The workspace's invoice for a calendar month (admins and owners)."
        " Idempotent: the same period always gives the same invoice. A DRAFT's lines are"
        " refreshed from the usage log at each call; an issued, paid or void invoice is"
        " returned unchanged.",
    )
    async def generate_invoice(self, info: Info, input: GenerateInvoiceInput) -> InvoiceResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        period = parse_period(input.period, datetime.now(UTC))
        async with info.context.state.db.transaction() as session:
            invoice = await service.generate_invoice(session, viewer.id, workspace_id, period)
        return InvoiceType.from_row(invoice)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Issue a DRAFT invoice, freezing its lines and totals (admins and owners;"
        " INVALID_STATE for an invoice that is not a draft).",
    )
    async def issue_invoice(self, info: Info, input: InvoiceActionInput) -> InvoiceResult:
        return await _transition(info, input, service.issue_invoice)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Record that an ISSUED invoice was paid (admins and owners).",
    )
    async def mark_invoice_paid(self, info: Info, input: InvoiceActionInput) -> InvoiceResult:
        return await _transition(info, input, service.mark_invoice_paid)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Void an ISSUED invoice (admins and owners); its usage is not billed again.",
    )
    async def void_invoice(self, info: Info, input: InvoiceActionInput) -> InvoiceResult:
        return await _transition(info, input, service.void_invoice)
