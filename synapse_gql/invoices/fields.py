"""The ``invoices`` connection field, attached to ``Workspace``."""

from __future__ import annotations

from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import InvoiceRef, InvoiceStatusRef


def invoices_field() -> Any:
    """An ``invoices(status, first, after, last, before)`` connection of a workspace."""

    async def invoices(
        root: Any,
        info: Info,
        status: InvoiceStatusRef | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[InvoiceRef]:
        from synapse_gql.invoices.queries import invoice_connection

        args = PageArgs(first, after, last, before)
        return await invoice_connection(info, root.db_id, status, args)

    return strawberry.field(
        resolver=invoices,
        description="Invoices, latest period first (admins and owners, as billing events;"
        " empty for others).",
    )
