"""The floor of ``bench.reads``: the rows of each shape fetched with asyncpg (one statement
per request) and encoded with orjson into the answer this server gives, in the bench's
own process. Whatever a GraphQL server spends above it is its own overhead.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from bench.reads_data import MONTH_END, MONTH_START, BenchData
from bench.reads_queries import Shape
from synapse_gql.gql.relay import to_global_id

Answer = Callable[[asyncpg.Pool], Awaitable[bytes]]

_CONVERSATIONS = """
SELECT id, title, coalesce(last_message_at, created_at) AS sort
FROM conversations WHERE workspace_id = w.id AND status = 'active'
ORDER BY sort DESC, id DESC LIMIT {conversations}
"""
_COUNTS = """, (SELECT count(*) FROM conversations
             WHERE workspace_id = w.id AND status = 'active') AS c_total,
           (SELECT count(*) FROM messages WHERE conversation_id = c.id) AS m_total"""
_TREE = """
SELECT w.id AS w_id, w.name, c.id AS c_id, c.title,
       m.id AS m_id, m.role, m.content, m.created_at{counts}
FROM ({workspaces}) AS w
CROSS JOIN LATERAL ({conversations}) AS c
LEFT JOIN LATERAL (
    SELECT id, role, content, created_at FROM messages WHERE conversation_id = c.id
    ORDER BY created_at, id LIMIT {messages}
) AS m ON true
ORDER BY w.created_at DESC, w.id DESC, c.sort DESC, c.id DESC, m.created_at, m.id
"""
ONE_WORKSPACE = "SELECT id, name, created_at FROM workspaces WHERE id = $1"
MY_WORKSPACES = """
SELECT w.id, w.name, w.created_at FROM workspaces AS w
JOIN workspace_members AS wm ON wm.workspace_id = w.id WHERE wm.user_id = $1
ORDER BY w.created_at DESC, w.id DESC LIMIT 10
"""
_USAGE = """
SELECT id, provider, model_id, input_tokens, output_tokens, total_tokens, cost, status,
       created_at
FROM usage_logs
WHERE workspace_id = $1 AND created_at >= $2 AND created_at < $3 {after}
ORDER BY created_at DESC, id DESC LIMIT 101
"""
USAGE_FIRST = _USAGE.format(after="")
USAGE_AFTER = _USAGE.format(after="AND (created_at, id) < ($4, $5)")


def tree_sql(workspaces: str, conversations: int, messages: int, counts: bool) -> str:
    """One statement for workspaces -> conversations -> messages pages (LATERAL)."""
    return _TREE.format(
        workspaces=workspaces,
        conversations=_CONVERSATIONS.format(conversations=conversations),
        messages=messages,
        counts=_COUNTS if counts else "",
    )


def _message(row: asyncpg.Record) -> dict[str, Any]:
    return {
        "id": to_global_id("Message", row["m_id"]),
        "role": row["role"].upper(),
        "content": row["content"],
        "createdAt": row["created_at"],
    }


def _trees(rows: list[asyncpg.Record], counts: bool) -> list[dict[str, Any]]:
    """Nested workspace dicts from the flat rows of ``tree_sql``, in row order."""
    workspaces: dict[uuid.UUID, dict[str, Any]] = {}
    conversations: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        workspace = workspaces.get(row["w_id"])
        if workspace is None:
            page: dict[str, Any] = {"totalCount": row["c_total"]} if counts else {}
            page["nodes"] = []
            workspace = workspaces[row["w_id"]] = {"name": row["name"], "conversations": page}
        conversation = conversations.get(row["c_id"])
        if conversation is None:
            messages: dict[str, Any] = {"totalCount": row["m_total"]} if counts else {}
            messages["nodes"] = []
            conversation = {"id": to_global_id("Conversation", row["c_id"]), "title": row["title"]}
            conversation["messages"] = messages
            conversations[row["c_id"]] = conversation
            workspace["conversations"]["nodes"].append(conversation)
        if row["m_id"] is not None:
            conversation["messages"]["nodes"].append(_message(row))
    return [{"id": to_global_id("Workspace", key), **value} for key, value in workspaces.items()]


def _cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = orjson.dumps([created_at.isoformat(), str(row_id)])
    return base64.urlsafe_b64encode(raw).decode()


def _usage(rows: list[asyncpg.Record]) -> dict[str, Any]:
    edges = [
        {
            "cursor": _cursor(row["created_at"], row["id"]),
            "node": {
                "id": to_global_id("UsageLog", row["id"]),
                "provider": row["provider"],
                "modelId": row["model_id"],
                "inputTokens": row["input_tokens"],
                "outputTokens": row["output_tokens"],
                "totalTokens": row["total_tokens"],
                "cost": str(row["cost"]),
                "status": row["status"].upper(),
                "createdAt": row["created_at"],
            },
        }
        for row in rows[:100]
    ]
    end = edges[-1]["cursor"] if edges else None
    return {"pageInfo": {"hasNextPage": len(rows) > 100, "endCursor": end}, "edges": edges}


async def usage_page_start(pool: asyncpg.Pool, data: BenchData, page: int) -> asyncpg.Record | None:
    """The (created_at, id) of the row that ends page ``page - 1``; None for page 1."""
    if page <= 1:
        return None
    return await pool.fetchrow(
        "SELECT created_at, id FROM usage_logs WHERE workspace_id = $1"
        " ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT 1",
        data.workspace_id,
        (page - 1) * 100 - 1,
    )


def _encode(data: Any) -> bytes:
    return orjson.dumps({"data": data})


Plan = tuple[str, list[Any], Callable[[list[asyncpg.Record]], Any]]


async def floor_answer(shape: Shape, data: BenchData, pool: asyncpg.Pool) -> Answer:
    """A coroutine function that answers ``shape`` from ``pool`` as JSON bytes."""
    if shape.name == "ConversationTitle":
        plan = _title_plan(data)
    elif shape.name.startswith("Tree"):
        plan = _tree_plan(shape.name, data)
    else:
        plan = await _usage_plan(shape, data, pool)
    sql, args, build = plan

    async def answer(pool: asyncpg.Pool) -> bytes:
        return _encode(build(await pool.fetch(sql, *args)))

    return answer


def _title_plan(data: BenchData) -> Plan:
    sql = "SELECT title FROM conversations WHERE id = $1"
    return sql, [data.conversation_id], lambda rows: {"node": {"title": rows[0]["title"]}}


async def _usage_plan(shape: Shape, data: BenchData, pool: asyncpg.Pool) -> Plan:
    start = await usage_page_start(pool, data, shape.page)
    args = [data.workspace_id, MONTH_START, MONTH_END, *(start or ())]
    sql = USAGE_AFTER if start else USAGE_FIRST
    return sql, args, lambda rows: {"workspace": {"usageLogs": _usage(rows)}}


def _tree_plan(name: str, data: BenchData) -> Plan:
    if name == "Tree10x10x10":
        sql = tree_sql(MY_WORKSPACES, 10, 10, counts=True)
        return sql, [data.user_id], lambda rows: {"workspaces": {"nodes": _trees(rows, True)}}
    conversations, messages, counts = (10, 20, True) if name == "Tree10x20" else (100, 100, False)
    sql = tree_sql(ONE_WORKSPACE, conversations, messages, counts)

    def one(rows: list[asyncpg.Record]) -> dict[str, Any]:
        trees = _trees(rows, counts)
        return {"workspace": {"conversations": trees[0]["conversations"]} if trees else None}

    return sql, [data.workspace_id], one
