"""workspaceStatistics: the figures equal plain SQL over the tables (active users exact at
the hour edges of the windows, read from rollups and raw rows), in two statements besides
the access check; the forecast is the budgets' projection; usage roles apply."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.analytics.rollups import rebuild_rollups
from synapse_gql.budgets.types import projected_spend
from tests.analytics_data import INSERT
from tests.helpers import db_id, execute, fetch, scalar, user_error
from tests.ledger import insert_conversation

PLAIN_ACTIVE = """
SELECT count(DISTINCT user_id) FILTER (WHERE at >= now() - interval '7 days') AS short,
       count(DISTINCT user_id) AS long
FROM (
  SELECT user_id, created_at AS at FROM usage_logs
   WHERE workspace_id = :w AND user_id IS NOT NULL AND created_at >= now() - interval '30 days'
  UNION ALL
  SELECT m.author_id, m.created_at FROM messages m JOIN conversations c ON c.id = m.conversation_id
   WHERE c.workspace_id = :w AND m.author_id IS NOT NULL
     AND m.created_at >= now() - interval '30 days'
) AS activity
"""
PLAIN_SPEND = """
SELECT coalesce(sum(cost), 0) AS spent,
       coalesce(sum(cost) FILTER (WHERE created_at >= greatest(:start, now() - interval '7 days')),
                0) AS trailing
FROM usage_logs WHERE workspace_id = :w AND created_at >= :start
"""


def _usage(workspace: uuid.UUID, llm: Any, user: uuid.UUID | None, at: datetime) -> dict:
    return {
        "id": uuid.uuid4(),
        "user_id": user,
        "workspace_id": workspace,
        "project_id": None,
        "agent_id": None,
        "api_token_id": None,
        "llm_id": llm.id,
        "provider": llm.provider,
        "input_tokens": 10,
        "output_tokens": 5,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "total_tokens": 15,
        "cost": Decimal("0.0123456789") * (1 + at.minute),
        "latency_ms": 100,
        "ttft": 10,
        "status": "success",
        "api_key_source": "workspace",
        "created_at": at,
    }


async def _message(engine: AsyncEngine, conversation: uuid.UUID, author: Any, at: datetime):
    await execute(
        engine,
        "INSERT INTO messages (id, conversation_id, role, status, content, author_id, created_at)"
        " VALUES (:id, :c, 'user', 'completed', 'Hi', :a, :at)",
        id=uuid.uuid4(),
        c=conversation,
        a=author,
        at=at,
    )


async def _scene(gql, make_user, make_workspace, add_member, engine) -> dict:
    """A workspace with members, projects, a conversation, messages and usage placed on
    both sides of the 7- and 30-day window edges."""
    owner, member, viewer = [await make_user(n) for n in ("owner", "member", "viewer")]
    workspace = await make_workspace(owner)
    await add_member(owner, workspace, member)
    await add_member(owner, workspace, viewer, role="VIEWER")
    for name in ("Alpha", "Beta"):
        await gql.op(
            "CreateProject", owner.token, input={"workspaceId": workspace["id"], "name": name}
        )
    outsiders = [db_id((await make_user(f"o{i}")).id) for i in range(4)]
    w = db_id(workspace["id"])
    conversation = await insert_conversation(engine, workspace["id"])
    now = datetime.now(UTC)
    await _message(engine, conversation, db_id(member.id), now - timedelta(days=2))
    await _message(engine, conversation, db_id(viewer.id), now - timedelta(days=20))
    await _message(engine, conversation, None, now - timedelta(days=1))
    llm = (await fetch(engine, "SELECT id, provider FROM llms ORDER BY model_id LIMIT 1"))[0]
    edge = timedelta(minutes=3)
    placed = [
        (db_id(owner.id), now - timedelta(minutes=1)),
        (db_id(owner.id), now - timedelta(hours=5)),
        (None, now - timedelta(hours=2)),
        (outsiders[0], now - timedelta(days=7) + edge),
        (outsiders[1], now - timedelta(days=7) - edge),
        (outsiders[2], now - timedelta(days=30) + edge),
        (outsiders[3], now - timedelta(days=30) - edge),
    ]
    async with engine.begin() as conn:
        await conn.execute(INSERT, [_usage(w, llm, user, at) for user, at in placed])
        await rebuild_rollups(conn)
    return {"owner": owner, "member": member, "viewer": viewer, "workspace": workspace}


async def test_statistics_equal_plain_sql_in_two_statements(
    gql, make_user, make_workspace, add_member, db_engine, sql_log
) -> None:
    """Given usage and messages around the window edges and a workspace budget, when a
    member asks for the statistics, then every figure equals plain SQL, the forecast is
    the budgets' projection, and the figures and budget take one statement each."""
    scene = await _scene(gql, make_user, make_workspace, add_member, db_engine)
    workspace = scene["workspace"]
    budget = {"workspaceId": workspace["id"], "limit": "250"}
    await gql.op("SetBudget", scene["owner"].token, input=budget)
    with sql_log() as log:
        data = await gql.op(
            "WorkspaceStatistics", scene["member"].token, workspaceId=workspace["id"]
        )
    stats = data["workspaceStatistics"]
    asked_at = datetime.now(UTC)
    assert stats["__typename"] == "WorkspaceStatistics", stats
    w = db_id(workspace["id"])
    active = (await fetch(db_engine, PLAIN_ACTIVE, w=w))[0]
    start = asked_at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    spend = (await fetch(db_engine, PLAIN_SPEND, w=w, start=start))[0]
    assert (stats["activeUsers7d"], stats["activeUsers30d"]) == (active.short, active.long)
    # 7 days: owner, member, one edge user; 30 days: also the viewer and two edge users.
    assert (active.short, active.long) == (3, 6)
    assert (stats["members"], stats["projects"], stats["conversations"]) == (3, 2, 1)
    assert stats["messages"] == await scalar(
        db_engine,
        "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE c.workspace_id = :w",
        w=w,
    )
    assert stats["messages"] == 3
    assert Decimal(stats["spent"]) == spend.spent > 0
    expected = projected_spend(spend.spent, spend.trailing, start, asked_at)
    assert abs(Decimal(stats["forecast"]) - expected) <= expected * Decimal("1e-5")
    assert stats["periodStart"].startswith(start.strftime("%Y-%m-%dT00:00:00"))
    assert Decimal(stats["budget"]["limit"]) == 250
    rollups = [s for s in log.statements if "usage_rollups" in s]
    budgets = [s for s in log.statements if "FROM budgets" in s]
    assert (len(rollups), len(budgets)) == (1, 1), log.statements
    assert log.count == 4, log.statements  # and the viewer and role look-ups


async def test_statistics_follow_the_usage_role_rule(
    gql, make_user, make_workspace, add_member
) -> None:
    """Given a workspace, when a viewer or a stranger asks, then FORBIDDEN and NOT_FOUND;
    without a budget the owner gets a null budget and zero spend."""
    owner, viewer, stranger = [await make_user(n) for n in ("owner", "viewer", "stranger")]
    workspace = await make_workspace(owner)
    await add_member(owner, workspace, viewer, role="VIEWER")

    async def ask(account) -> dict:
        data = await gql.op("WorkspaceStatistics", account.token, workspaceId=workspace["id"])
        return data["workspaceStatistics"]

    user_error(await ask(viewer), "FORBIDDEN", ["workspaceId"])
    user_error(await ask(stranger), "NOT_FOUND", ["workspaceId"])
    mine = await ask(owner)
    assert mine["budget"] is None
    assert Decimal(mine["spent"]) == 0 == Decimal(mine["forecast"])
    assert (mine["members"], mine["activeUsers30d"], mine["messages"]) == (2, 0, 0)
