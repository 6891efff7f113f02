"""The read shapes of ``bench.reads``, written for this server and for PostGraphile v5.

Each shape asks both servers for the same rows and the same columns. PostGraphile names
things by its inflection (``allWorkspaces``, ``conversationsByWorkspaceId``, ``rowId``) and
orders by explicit ``orderBy``; this server's defaults are the same orders (workspaces and
conversations newest first, messages oldest first, usage newest first). ``canonical``
turns an answer of either server into one comparable form.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from bench.reads_data import MONTH_END, MONTH_START, BenchData
from synapse_gql.gql.relay import to_global_id

MESSAGE_FIELDS = "id role content createdAt"
USAGE_FIELDS = "id provider modelId inputTokens outputTokens totalTokens cost status createdAt"


@dataclass(frozen=True)
class Shape:
    """One read: a document and variables for each server; ``page`` > 1 starts after the
    cursor that ends page ``page - 1`` (found by walking the pages first)."""

    name: str
    ours: str
    theirs: str
    ours_variables: dict[str, Any]
    theirs_variables: dict[str, Any]
    page: int = 1


def _ours_tree(conversations: int, messages: int, counts: bool) -> str:
    total = "totalCount" if counts else ""
    return (
        f"conversations(first: {conversations}) {{ {total} nodes {{ id title "
        f"messages(first: {messages}) {{ {total} nodes {{ {MESSAGE_FIELDS} }} }} }} }}"
    )


def _theirs_tree(conversations: int, messages: int, counts: bool) -> str:
    total = "totalCount" if counts else ""
    return (
        f"conversations: conversationsByWorkspaceId(first: {conversations},"
        f" orderBy: [LAST_MESSAGE_AT_DESC]) {{ {total} nodes {{ id title "
        f"messages: messagesByConversationId(first: {messages}, orderBy: [CREATED_AT_ASC])"
        f" {{ {total} nodes {{ {MESSAGE_FIELDS} }} }} }} }}"
    )


def _one_workspace(name: str, data: BenchData, inner: tuple[str, str]) -> Shape:
    ours = f"query {name}($id: ID!) {{ workspace(id: $id) {{ {inner[0]} }} }}"
    theirs = (
        f"query {name}($id: UUID!) {{ workspace: workspaceByRowId(rowId: $id) {{ {inner[1]} }} }}"
    )
    ours_id = to_global_id("Workspace", data.workspace_id)
    return Shape(name, ours, theirs, {"id": ours_id}, {"id": str(data.workspace_id)})


def _usage_page(name: str, data: BenchData, page: int) -> Shape:
    selection = f"pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ {USAGE_FIELDS} }} }}"
    ours = (
        f"query {name}($id: ID!, $since: DateTime, $until: DateTime, $after: String) {{"
        " workspace(id: $id) { usageLogs(since: $since, until: $until, first: 100,"
        f" after: $after) {{ {selection} }} }} }}"
    )
    # Every usage row of the workspace is in the month, so no date filter is needed there
    # (PostGraphile's amber preset has no range conditions).
    theirs = (
        f"query {name}($id: UUID!, $after: Cursor) {{ workspace: workspaceByRowId(rowId: $id)"
        " { usageLogs: usageLogsByWorkspaceId(first: 100, after: $after,"
        f" orderBy: [CREATED_AT_DESC]) {{ {selection} }} }} }}"
    )
    ours_variables = {
        "id": to_global_id("Workspace", data.workspace_id),
        "since": MONTH_START.isoformat(),
        "until": MONTH_END.isoformat(),
        "after": None,
    }
    theirs_variables = {"id": str(data.workspace_id), "after": None}
    return Shape(name, ours, theirs, ours_variables, theirs_variables, page)


def shapes(data: BenchData) -> list[Shape]:
    """The five reads of the issue (the usage page twice: first and deep)."""
    by_id = Shape(
        "ConversationTitle",
        "query ConversationTitle($id: ID!) { node(id: $id) { ... on Conversation { title } } }",
        "query ConversationTitle($id: UUID!) { node: conversationByRowId(rowId: $id) { title } }",
        {"id": to_global_id("Conversation", data.conversation_id)},
        {"id": str(data.conversation_id)},
    )
    many = (
        f"workspaces(first: 10) {{ nodes {{ id name {_ours_tree(10, 10, True)} }} }}",
        "workspaces: allWorkspaces(first: 10, orderBy: [CREATED_AT_DESC])"
        f" {{ nodes {{ id name {_theirs_tree(10, 10, True)} }} }}",
    )
    deep_page = max(2, min(50, data.size.usage_rows // 100))
    return [
        by_id,
        _one_workspace("Tree10x20", data, (_ours_tree(10, 20, True), _theirs_tree(10, 20, True))),
        Shape(
            "Tree10x10x10",
            f"query Tree10x10x10 {{ {many[0]} }}",
            f"query Tree10x10x10 {{ {many[1]} }}",
            {},
            {},
        ),
        _one_workspace(
            "Tree100x100", data, (_ours_tree(100, 100, False), _theirs_tree(100, 100, False))
        ),
        _usage_page("UsagePage1", data, 1),
        _usage_page(f"UsagePage{deep_page}", data, deep_page),
    ]


_IGNORED = {"id", "cursor", "endCursor"}


def canonical(value: Any, key: str = "") -> Any:
    """An answer with ids and cursors left out (each server has its own) and leaves
    normalised: timestamps as datetimes, money as Decimal, enum values lower-cased."""
    if isinstance(value, dict):
        return {k: canonical(v, k) for k, v in value.items() if k not in _IGNORED}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    if key in {"role", "status"} and isinstance(value, str):
        return value.lower()
    if key == "cost" and value is not None:
        return Decimal(str(value))
    if key == "createdAt" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def row_count(value: Any) -> int:
    """How many objects an answer holds (the size both answers must agree on)."""
    if isinstance(value, dict):
        return 1 + sum(row_count(v) for v in value.values())
    if isinstance(value, list):
        return sum(row_count(item) for item in value)
    return 0
