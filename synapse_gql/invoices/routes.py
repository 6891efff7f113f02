"""``GET /invoices/{id}.csv``: an invoice's lines as CSV, authenticated like ``/graphql``.

401 without a valid bearer token; 404 for an unknown id or an invoice of a workspace
where the caller is not an admin or owner, so other tenants' ids reveal nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from synapse_gql.context import Context
from synapse_gql.errors import DomainError
from synapse_gql.gql.relay import decode_id
from synapse_gql.graphql_route import request_context
from synapse_gql.invoices import repository
from synapse_gql.invoices.periods import name_of
from synapse_gql.invoices.service import BILLING_ROLE
from synapse_gql.models import Invoice, InvoiceLine
from synapse_gql.workspaces.access import role_of

HEADER = [
    "invoice",
    "period",
    "kind",
    "description",
    "adjusted_period",
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "amount",
    "currency",
]
router = APIRouter()


@router.get("/invoices/{invoice_id:path}.csv", response_class=StreamingResponse)
async def invoice_csv(
    invoice_id: str, context: Context = Depends(request_context)
) -> StreamingResponse:
    """The invoice's lines, one CSV row each, amounts written exactly as stored."""
    if context.viewer is None:
        raise HTTPException(
            status_code=401,
            detail="Authentication required: send a bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    invoice, lines = await _readable(context, invoice_id)
    return StreamingResponse(
        _csv_rows(invoice, lines),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{invoice.number}.csv"'},
    )


async def _readable(context: Context, global_id: str) -> tuple[Invoice, list[InvoiceLine]]:
    assert context.viewer is not None
    try:
        invoice_id = decode_id(global_id, "Invoice")
    except DomainError:
        raise HTTPException(status_code=404, detail="No such invoice.") from None
    async with context.sessions() as session:  # the request's read connection
        invoice = await session.scalar(select(Invoice).where(Invoice.id == invoice_id))
        role = None
        if invoice is not None:
            role = await role_of(session, invoice.workspace_id, context.viewer.id)
        if invoice is None or role is None or role.rank < BILLING_ROLE.rank:
            raise HTTPException(status_code=404, detail="No such invoice.")
        return invoice, await repository.lines_of(session, [invoice.id])


def _csv_rows(invoice: Invoice, lines: Sequence[InvoiceLine]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    writer.writerow(HEADER)
    yield take()
    for line in lines:
        writer.writerow(_row(invoice, line))
        yield take()


def _row(invoice: Invoice, line: InvoiceLine) -> list[object]:
    adjusted = line.adjusted_period_start
    return [
        invoice.number,
        name_of(invoice.period_start),
        line.kind.name,
        line.description,
        "" if adjusted is None else name_of(adjusted),
        line.call_count,
        line.input_tokens,
        line.output_tokens,
        line.cache_read_tokens,
        line.cache_write_tokens,
        # Fixed-point, never exponent notation: the stored NUMERIC exactly.
        format(line.amount, "f"),
        invoice.currency,
    ]


__all__ = ["router"]
