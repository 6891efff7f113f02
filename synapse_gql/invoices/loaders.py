"""Batched loading of invoice lines: one statement for the lines of every invoice a
request shows."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from synapse_gql.context import Info
from synapse_gql.invoices import repository
from synapse_gql.models import InvoiceLine


async def invoice_lines(info: Info, invoice_id: uuid.UUID) -> list[InvoiceLine]:
    """The invoice's lines in order (batched with the other invoices of the request)."""

    async def batch(ids: Sequence[uuid.UUID]) -> list[list[InvoiceLine]]:
        async with info.context.sessions() as session:
            rows = await repository.lines_of(session, list(ids))
        grouped: dict[uuid.UUID, list[InvoiceLine]] = defaultdict(list)
        for row in rows:
            grouped[row.invoice_id].append(row)
        return [grouped.get(i, []) for i in ids]

    return await info.context.loaders.get("invoice_lines", batch).load(invoice_id)
