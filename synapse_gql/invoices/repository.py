"""Every SQL statement of invoices: the invoice row, the usage it covers, its lines."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, delete, exists, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.invoices.periods import Period
from synapse_gql.models import (
    LLM,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceUsage,
    Project,
    UsageLog,
)


@dataclass(frozen=True)
class UsageGroup:
    """Covered usage rows of one model and project; ``late_period`` is the start of the
    earlier month they belong to when they are late usage, else None."""

    llm_id: uuid.UUID
    project_id: uuid.UUID | None
    late_period: datetime | None
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    amount: Decimal


async def upsert_locked(
    session: AsyncSession, workspace_id: uuid.UUID, period: Period, number: str
) -> Invoice:
    """The workspace's invoice for ``period``, created as an empty draft when missing,
    locked until the transaction ends. Concurrent callers wait on the unique constraint,
    then on the row lock, so they all get the one row."""
    await session.execute(
        pg_insert(Invoice)
        .values(
            id=uuid.uuid4(),
            workspace_id=workspace_id,
            number=number,
            period_start=period.start,
            period_end=period.end,
            subtotal=Decimal(0),
            total=Decimal(0),
            status=InvoiceStatus.DRAFT,
        )
        .on_conflict_do_nothing(index_elements=["workspace_id", "period_start", "period_end"])
    )
    stmt = select(Invoice).where(
        Invoice.workspace_id == workspace_id,
        Invoice.period_start == period.start,
        Invoice.period_end == period.end,
    )
    return (await session.scalars(_locked(stmt))).one()


async def lock(session: AsyncSession, invoice_id: uuid.UUID) -> Invoice | None:
    """The invoice, locked until the transaction ends; None when missing."""
    stmt = select(Invoice).where(Invoice.id == invoice_id)
    return (await session.scalars(_locked(stmt))).one_or_none()


def _locked(stmt: Any) -> Any:
    return stmt.with_for_update().execution_options(populate_existing=True)


def _uncovered() -> ColumnElement[bool]:
    return ~exists().where(InvoiceUsage.usage_log_id == UsageLog.id)


async def cover_usage(session: AsyncSession, invoice: Invoice) -> None:
    """Mark as billed by ``invoice`` the uncovered usage of its period, and the uncovered
    (late) usage of earlier periods whose invoice is no longer a draft. The primary key on
    the usage row settles races with other invoices: each row is billed once."""
    own = select(UsageLog.id, literal(invoice.id)).where(
        UsageLog.workspace_id == invoice.workspace_id,
        UsageLog.created_at >= invoice.period_start,
        UsageLog.created_at < invoice.period_end,
        _uncovered(),
    )
    late = (
        select(UsageLog.id, literal(invoice.id))
        .join(
            Invoice,
            (Invoice.workspace_id == UsageLog.workspace_id)
            & (UsageLog.created_at >= Invoice.period_start)
            & (UsageLog.created_at < Invoice.period_end),
        )
        .where(
            UsageLog.workspace_id == invoice.workspace_id,
            Invoice.status != InvoiceStatus.DRAFT,
            Invoice.period_end <= invoice.period_start,
            _uncovered(),
        )
    )
    for rows in (own, late):
        # In usage id order: two invoices claiming the same late rows wait on each other
        # row by row in one order, never in a deadlock.
        ordered = rows.order_by(UsageLog.id)
        insert = pg_insert(InvoiceUsage).from_select(["usage_log_id", "invoice_id"], ordered)
        await session.execute(insert.on_conflict_do_nothing(index_elements=["usage_log_id"]))


async def covered_groups(session: AsyncSession, invoice: Invoice) -> list[UsageGroup]:
    """The usage the invoice covers, summed per model, project and late month."""
    late = case(
        (
            UsageLog.created_at < invoice.period_start,
            func.date_trunc("month", UsageLog.created_at, "UTC"),
        ),
        else_=None,
    ).label("late_period")
    stmt = (
        select(
            UsageLog.llm_id,
            UsageLog.project_id,
            late,
            func.count(),
            func.sum(UsageLog.input_tokens),
            func.sum(UsageLog.output_tokens),
            func.sum(UsageLog.cache_read_tokens),
            func.sum(UsageLog.cache_write_tokens),
            func.sum(UsageLog.cost),
        )
        .join(InvoiceUsage, InvoiceUsage.usage_log_id == UsageLog.id)
        .where(InvoiceUsage.invoice_id == invoice.id)
        .group_by(UsageLog.llm_id, UsageLog.project_id, late)
    )
    rows = (await session.execute(stmt)).all()
    return [
        UsageGroup(
            llm_id=row[0],
            project_id=row[1],
            late_period=row[2],
            calls=int(row[3]),
            input_tokens=int(row[4]),
            output_tokens=int(row[5]),
            cache_read_tokens=int(row[6]),
            cache_write_tokens=int(row[7]),
            amount=row[8],
        )
        for row in rows
    ]


async def names(
    session: AsyncSession, llm_ids: set[uuid.UUID], project_ids: set[uuid.UUID]
) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    """Display names of models and names of projects by id."""
    llms = dict(
        (await session.execute(select(LLM.id, LLM.display_name).where(LLM.id.in_(llm_ids)))).all()
    )
    projects = dict(
        (
            await session.execute(
                select(Project.id, Project.name).where(Project.id.in_(project_ids))
            )
        ).all()
    )
    return llms, projects


async def replace_lines(
    session: AsyncSession, invoice_id: uuid.UUID, lines: list[InvoiceLine]
) -> None:
    """Drop the invoice's lines and write ``lines`` instead."""
    await session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id))
    session.add_all(lines)
    await session.flush()


async def lines_of(session: AsyncSession, invoice_ids: list[uuid.UUID]) -> list[InvoiceLine]:
    """Lines of the invoices, in each invoice's order."""
    stmt = (
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id.in_(invoice_ids))
        .order_by(InvoiceLine.invoice_id, InvoiceLine.position)
    )
    return list((await session.scalars(stmt)).all())
