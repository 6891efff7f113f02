"""Billing lists under workspaces, users and messages; ``node`` resolution.

Billing events are visible to admins and owners of their workspace only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, false

from synapse_gql.billing.types import BillingEventType
from synapse_gql.context import Info
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import ColumnExpr, Connection, PageArgs, SortKey
from synapse_gql.gql.relay import register_node
from synapse_gql.models import BillingEvent, MemberRole, Message, UsageLog
from synapse_gql.usage.filters import as_utc, time_range
from synapse_gql.workspaces.access import visible_rows
from synapse_gql.workspaces.membership import readable_workspaces

BILLING_ROLE = MemberRole.ADMIN
# scope -> (the parent column, the join terms that reach it from a billing event)
SCOPES: dict[str, tuple[ColumnExpr, list[ColumnElement[bool]]]] = {
    "workspace": (BillingEvent.workspace_id, []),
    "user": (BillingEvent.user_id, []),
    "message": (BillingEvent.message_id, []),
    "conversation": (Message.conversation_id, [BillingEvent.message_id == Message.id]),
    "llm": (UsageLog.llm_id, [BillingEvent.usage_log_id == UsageLog.id]),
}


def billing_visibility(info: Info, scope: str) -> list[ColumnElement[bool]]:
    """Events the viewer may read; a user's list only ever shows the viewer's own events."""
    viewer = info.context.viewer
    if viewer is None:
        return [false()]
    terms: list[ColumnElement[bool]] = [
        BillingEvent.workspace_id.in_(readable_workspaces(viewer.id, BILLING_ROLE))
    ]
    if scope == "user":
        terms.append(BillingEvent.user_id == viewer.id)
    return terms


async def billing_connection(
    info: Info,
    scope: str,
    scope_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
    args: PageArgs,
) -> Connection[BillingEventType]:
    """Billing events under ``scope_id`` (see ``SCOPES``) newest first, batched
    across parents of the same scope; ``since``/``until`` bound ``created_at``."""
    since, until = as_utc(since), as_utc(until)
    parent, joins = SCOPES[scope]
    spec = ChildList(
        name=("billing", scope, since, until),
        model=BillingEvent,
        parent=parent,
        key=SortKey(BillingEvent.created_at, BillingEvent.id),
        where=[
            *joins,
            *time_range(BillingEvent.created_at, since, until),
            *billing_visibility(info, scope),
        ],
    )
    return await child_connection(info, spec, scope_id, args, BillingEventType.from_row)


async def _billing_events(info: Info, ids: Sequence[uuid.UUID]) -> list[BillingEventType | None]:
    rows = await visible_rows(info, BillingEvent, ids, BILLING_ROLE)
    return [None if r is None else BillingEventType.from_row(r) for r in rows]


register_node("BillingEvent", _billing_events)
