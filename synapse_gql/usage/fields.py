"""``usageLogs`` and ``billingEvents`` fields, made once and attached to every type that
has them (workspace, user, conversation, message, LLM), and the ``usage`` fields of
messages and of the stream events that end an answer."""

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


def message_usage_field() -> Any:
    """``usage`` of a message: the latest usage record of the LLM call behind it."""

    async def usage(root: Any, info: Info) -> UsageLogRef | None:
        from synapse_gql.usage.queries import message_usage

        return await message_usage(info, root.db_id)

    return strawberry.field(
        resolver=usage, description="The latest usage record of the LLM call behind it."
    )


def call_usage_field(description: str) -> Any:
    """``usage`` of an answer's end event: the usage log its ``usage_log_id`` names, with the
    same check as over HTTP (members and above; null for a viewer)."""

    async def usage(root: Any, info: Info) -> UsageLogRef | None:
        from synapse_gql.usage.queries import readable_usage_log

        return await readable_usage_log(info, root.usage_log_id)

    return strawberry.field(resolver=usage, description=description)
