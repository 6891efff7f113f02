"""Reading invoices: ``Workspace.invoices`` and ``node`` resolution.

Invoices follow billing's rule (``billing.queries.BILLING_ROLE``): admins and owners of
their workspace read them; for members and viewers the list is empty and ids resolve to
null.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import false, true

from synapse_gql.billing.queries import BILLING_ROLE
from synapse_gql.context import Info
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.relay import register_node
from synapse_gql.invoices.types import InvoiceType
from synapse_gql.models import Invoice, InvoiceStatus
from synapse_gql.workspaces.access import viewer_role, visible_rows


async def invoice_connection(
    info: Info, workspace_id: uuid.UUID, status: InvoiceStatus | None, args: PageArgs
) -> Connection[InvoiceType]:
    """The workspace's invoices, latest period first (batched across workspaces)."""
    role = await viewer_role(info, workspace_id)
    allowed = role is not None and role.rank >= BILLING_ROLE.rank
    spec = ChildList(
        name=("invoices", status, allowed),
        model=Invoice,
        parent=Invoice.workspace_id,
        key=SortKey(Invoice.period_start, Invoice.id),
        where=[
            true() if status is None else Invoice.status == status,
            true() if allowed else false(),
        ],
    )
    return await child_connection(info, spec, workspace_id, args, InvoiceType.from_row)


async def _invoices(info: Info, ids: Sequence[uuid.UUID]) -> list[InvoiceType | None]:
    rows = await visible_rows(info, Invoice, ids, BILLING_ROLE)
    return [None if row is None else InvoiceType.from_row(row) for row in rows]


register_node("Invoice", _invoices)
