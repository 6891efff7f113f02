"""Usage lists under workspaces, users, conversations, messages and models.

Usage is visible to members, admins and owners of the workspace it belongs to (not to
viewers): every list carries that condition, so no parent can leak another tenant's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, false, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import distinct_on

from synapse_gql.context import Info
from synapse_gql.gql.batched import RowList, RowShape, row_connection
from synapse_gql.gql.pagination import ColumnExpr, Connection, PageArgs, SortKey
from synapse_gql.gql.relay import register_node
from synapse_gql.gql.selection import connection_selection
from synapse_gql.models import MemberRole, UsageLog
from synapse_gql.usage.filters import as_utc, time_range
from synapse_gql.usage.types import UsageLogType
from synapse_gql.workspaces.access import visible_rows
from synapse_gql.workspaces.membership import readable_workspaces

USAGE_ROLE = MemberRole.MEMBER
SCOPES: dict[str, ColumnExpr] = {
    "workspace": UsageLog.workspace_id,
    "user": UsageLog.user_id,
    "conversation": UsageLog.conversation_id,
    "message": UsageLog.message_id,
    "llm": UsageLog.llm_id,
}


def usage_visibility(info: Info, scope: str) -> list[ColumnElement[bool]]:
    """Usage rows the viewer may read; a user's list only ever shows the viewer's own calls."""
    viewer = info.context.viewer
    if viewer is None:
        return [false()]
    terms: list[ColumnElement[bool]] = [
        UsageLog.workspace_id.in_(readable_workspaces(viewer.id, USAGE_ROLE))
    ]
    if scope == "user":
        terms.append(UsageLog.user_id == viewer.id)
    return terms


USAGE_COLUMNS: dict[str, ColumnExpr] = {
    attribute.key: getattr(UsageLog, attribute.key)
    for attribute in sa_inspect(UsageLog).column_attrs
}
USAGE_NAMES = tuple(USAGE_COLUMNS)
USAGE_KEY = SortKey(UsageLog.created_at, UsageLog.id)


def _usage_node(names: Sequence[str], row: Any) -> UsageLogType:
    return UsageLogType.from_row(row)


async def usage_connection(
    info: Info,
    scope: str,
    scope_id: uuid.UUID,
    since: datetime | None,
    until: datetime | None,
    args: PageArgs,
) -> Connection[UsageLogType]:
    """Usage under ``scope_id`` newest first: one parent's page is ``ORDER BY created_at
    DESC, id DESC LIMIT n + 1`` on the scope's ``(scope, created_at)`` index from the
    cursor on (the same cost at any depth of paging), many parents' pages one ``LATERAL``
    statement; the count only when ``totalCount`` is selected, in the same statement.

    ``scope`` is one of workspace, user, conversation, message, llm; ``since``/``until``
    bound ``created_at`` (inclusive, exclusive).
    """
    since, until = as_utc(since), as_utc(until)
    spec = RowList(
        name=("usage", scope, since, until),
        columns=USAGE_COLUMNS,
        parent=SCOPES[scope],
        key=USAGE_KEY,
        where=[*time_range(UsageLog.created_at, since, until), *usage_visibility(info, scope)],
    )
    shape = RowShape(USAGE_NAMES, connection_selection(info).total_count)
    return await row_connection(info, spec, scope_id, args, shape, _usage_node)


async def message_usage(info: Info, message_id: uuid.UUID) -> UsageLogType | None:
    """The latest usage row of a message (batched across messages), None when there is none."""
    terms = usage_visibility(info, "message")

    async def batch(ids: Sequence[uuid.UUID]) -> list[UsageLog | None]:
        stmt = (
            select(UsageLog)
            .where(UsageLog.message_id.in_(ids), *terms)
            .ext(distinct_on(UsageLog.message_id))
            .order_by(UsageLog.message_id, UsageLog.created_at.desc(), UsageLog.id.desc())
        )
        found = {row.message_id: row for row in await info.context.loaders.rows(stmt)}
        return [found.get(i) for i in ids]

    row = await info.context.loaders.get("message_usage", batch).load(message_id)
    return None if row is None else UsageLogType.from_row(row)


async def _usage_logs(info: Info, ids: Sequence[uuid.UUID]) -> list[UsageLogType | None]:
    rows = await visible_rows(info, UsageLog, ids, USAGE_ROLE)
    return [None if r is None else UsageLogType.from_row(r) for r in rows]


async def readable_usage_log(info: Info, usage_log_id: uuid.UUID | None) -> UsageLogType | None:
    """The usage log when the viewer may read it (member or above in its workspace), else
    None: the check of ``node``, used by every field that reaches a usage log by id
    (subscription events included)."""
    if usage_log_id is None:
        return None
    return (await _usage_logs(info, [usage_log_id]))[0]


register_node("UsageLog", _usage_logs)
