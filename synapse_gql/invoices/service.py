"""Generating invoices from the usage log and moving them through their states.

DRAFT -> ISSUED -> PAID | VOID. Generating a period again refreshes a draft's lines
from the usage log and returns any other invoice unchanged. The service only flushes;
the mutation owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.errors import DomainError, ErrorCode, NotFound
from synapse_gql.invoices import repository
from synapse_gql.invoices.periods import Period, name_of
from synapse_gql.invoices.repository import UsageGroup
from synapse_gql.models import Invoice, InvoiceLine, InvoiceLineKind, InvoiceStatus, MemberRole
from synapse_gql.workspaces.access import require_role

INVOICE_PATH = ["input", "invoiceId"]
BILLING_ROLE = MemberRole.ADMIN
NO_PROJECT = "No project"


class InvalidState(DomainError):
    code = ErrorCode.INVALID_STATE


async def generate_invoice(
    session: AsyncSession, user_id: uuid.UUID, workspace_id: uuid.UUID, period: Period
) -> Invoice:
    """The workspace's invoice for ``period`` (admins and owners): created when missing,
    its lines refreshed from the usage log while it is a draft, returned as is after."""
    await require_role(session, workspace_id, user_id, BILLING_ROLE)
    invoice = await repository.upsert_locked(session, workspace_id, period, _number(period))
    if invoice.status is InvoiceStatus.DRAFT:
        await repository.cover_usage(session, invoice)
        await _write_lines(session, invoice)
    return invoice


def _number(period: Period) -> str:
    # Random, not sequential: a workspace's numbers reveal nothing of other workspaces.
    return f"INV-{period.start:%Y%m}-{uuid.uuid4().hex[:12].upper()}"


async def _write_lines(session: AsyncSession, invoice: Invoice) -> None:
    groups = await repository.covered_groups(session, invoice)
    llm_names, project_names = await repository.names(
        session,
        {g.llm_id for g in groups},
        {g.project_id for g in groups if g.project_id is not None},
    )
    current = [g for g in groups if g.late_period is None]
    late = [g for g in groups if g.late_period is not None]
    lines = [
        *_fold(current, lambda g: g.llm_id, InvoiceLineKind.MODEL),
        *_fold(current, lambda g: g.project_id, InvoiceLineKind.PROJECT),
        *_fold(late, lambda g: (g.late_period, g.llm_id), InvoiceLineKind.ADJUSTMENT),
    ]
    for position, line in enumerate(lines):
        line.invoice_id, line.position = invoice.id, position
        line.description = _describe(line, llm_names, project_names)
    subtotal = sum((x.amount for x in lines if x.kind is InvoiceLineKind.MODEL), Decimal(0))
    adjustments = (x.amount for x in lines if x.kind is InvoiceLineKind.ADJUSTMENT)
    invoice.subtotal = subtotal
    invoice.total = subtotal + sum(adjustments, Decimal(0))
    await repository.replace_lines(session, invoice.id, lines)


def _fold(
    groups: Iterable[UsageGroup], key: Callable[[UsageGroup], Hashable], kind: InvoiceLineKind
) -> list[InvoiceLine]:
    """One line per ``key`` with the groups' counts and amounts added up exactly."""
    merged: dict[Hashable, InvoiceLine] = {}
    for group in groups:
        line = merged.get(key(group))
        if line is None:
            line = merged[key(group)] = _empty_line(kind, group)
        line.call_count += group.calls
        line.input_tokens += group.input_tokens
        line.output_tokens += group.output_tokens
        line.cache_read_tokens += group.cache_read_tokens
        line.cache_write_tokens += group.cache_write_tokens
        line.amount += group.amount
    return sorted(merged.values(), key=_line_order)


def _empty_line(kind: InvoiceLineKind, group: UsageGroup) -> InvoiceLine:
    return InvoiceLine(
        id=uuid.uuid4(),
        kind=kind,
        llm_id=None if kind is InvoiceLineKind.PROJECT else group.llm_id,
        project_id=group.project_id if kind is InvoiceLineKind.PROJECT else None,
        adjusted_period_start=group.late_period,
        call_count=0,
        input_tokens=0,
        output_tokens=0,
        cache_read_tokens=0,
        cache_write_tokens=0,
        amount=Decimal(0),
    )


def _line_order(line: InvoiceLine) -> tuple[object, ...]:
    # Earlier months first, then the largest amounts; ids keep the order total.
    return (
        line.adjusted_period_start or datetime.min.replace(tzinfo=UTC),
        -line.amount,
        str(line.llm_id or line.project_id),
    )


def _describe(
    line: InvoiceLine, llm_names: dict[uuid.UUID, str], project_names: dict[uuid.UUID, str]
) -> str:
    if line.kind is InvoiceLineKind.PROJECT:
        return project_names.get(line.project_id, NO_PROJECT) if line.project_id else NO_PROJECT
    model = llm_names.get(line.llm_id, "Unknown model") if line.llm_id else "Unknown model"
    if line.kind is InvoiceLineKind.ADJUSTMENT and line.adjusted_period_start is not None:
        month = name_of(line.adjusted_period_start)
        return f"{model}: usage of {month} metered after its invoice was issued"[:300]
    return model[:300]


async def _locked_for_admin(
    session: AsyncSession, user_id: uuid.UUID, invoice_id: uuid.UUID
) -> Invoice:
    invoice = await repository.lock(session, invoice_id)
    if invoice is None:
        raise NotFound("No such invoice.", field=INVOICE_PATH)
    await require_role(
        session, invoice.workspace_id, user_id, BILLING_ROLE, field=INVOICE_PATH, what="invoice"
    )
    return invoice


async def _move(
    session: AsyncSession,
    user_id: uuid.UUID,
    invoice_id: uuid.UUID,
    source: InvoiceStatus,
    target: InvoiceStatus,
) -> Invoice:
    invoice = await _locked_for_admin(session, user_id, invoice_id)
    if invoice.status is not source:
        raise InvalidState(
            f"Only a {source.value} invoice can become {target.value};"
            f" this one is {invoice.status.value}.",
            field=INVOICE_PATH,
        )
    invoice.status = target
    stamp = {
        InvoiceStatus.ISSUED: "issued_at",
        InvoiceStatus.PAID: "paid_at",
        InvoiceStatus.VOID: "voided_at",
    }
    setattr(invoice, stamp[target], datetime.now(UTC))
    await session.flush()
    return invoice


async def issue_invoice(
    session: AsyncSession, user_id: uuid.UUID, invoice_id: uuid.UUID
) -> Invoice:
    """DRAFT -> ISSUED: lines and totals are frozen as last generated; usage of the period
    billed by none of them is charged on a later invoice as an adjustment."""
    return await _move(session, user_id, invoice_id, InvoiceStatus.DRAFT, InvoiceStatus.ISSUED)


async def mark_invoice_paid(
    session: AsyncSession, user_id: uuid.UUID, invoice_id: uuid.UUID
) -> Invoice:
    """ISSUED -> PAID."""
    return await _move(session, user_id, invoice_id, InvoiceStatus.ISSUED, InvoiceStatus.PAID)


async def void_invoice(session: AsyncSession, user_id: uuid.UUID, invoice_id: uuid.UUID) -> Invoice:
    """ISSUED -> VOID: the bill is cancelled; the usage it covered stays billed by it and is
    not charged again."""
    return await _move(session, user_id, invoice_id, InvoiceStatus.ISSUED, InvoiceStatus.VOID)
