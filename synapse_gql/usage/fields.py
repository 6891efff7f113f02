"""``usageLogs`` and ``billingEvents`` fields, made once and attached to every type that
has them (workspace, user, conversation, message, LLM)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import BillingEventRef, UsageLogRef

NOUNS = {"llm": "model", "user": "user (yours only)"}


def usage_logs_field(scope: str) -> Any:
    """A ``usageLogs(since, until, first, after, last, before)`` connection under ``scope``."""

    async def usage_logs(
        root: Any,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[UsageLogRef]:
        from synapse_gql.usage.queries import usage_connection

        args = PageArgs(first, after, last, before)
        return await usage_connection(info, scope, root.db_id, since, until, args)

    return strawberry.field(
        resolver=usage_logs,
        description=f"LLM calls of this {NOUNS.get(scope, scope)}, newest first; only rows of "
        "workspaces where you are a member or above.",
    )


def billing_events_field(scope: str) -> Any:
    """A ``billingEvents(since, until, first, after, last, before)`` connection under ``scope``."""

    async def billing_events(
        root: Any,
        info: Info,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[BillingEventRef]:
        from synapse_gql.billing.queries import billing_connection

        args = PageArgs(first, after, last, before)
        return await billing_connection(info, scope, root.db_id, since, until, args)

    return strawberry.field(
        resolver=billing_events,
        description=f"Billing events of this {NOUNS.get(scope, scope)}, newest first; only rows "
        "of workspaces where you are an admin or owner.",
    )
