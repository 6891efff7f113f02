"""Constant SQL per request: the same query shape runs the same number of statements
whatever the amount of data (here: workspaces with members and projects), on both read
paths (``compiled_reads`` on and off)."""

from __future__ import annotations

from sqlalchemy import text

from synapse_gql.gql.relay import decode_id
from tests.compiled_support import BOTH_PATHS, COMPILED_SQL

WORKSPACE_TREE = """
{
  workspaces(first: 20) {
    totalCount
    edges { node {
      id name viewerRole owner { id email }
      members(first: 20) { totalCount edges { node { role user { id name } } } }
      projects(first: 20) { totalCount edges { node { id name createdBy { id } } } }
      invitations(first: 20) { totalCount edges { node { email inviter { id } } } }
    } }
  }
}
"""


async def _grow(
    gql, make_user, make_workspace, add_member, owner, workspaces: int, per: int
) -> None:
    for w in range(workspaces):
        workspace = await make_workspace(owner, f"W{w}")
        for p in range(per):
            await gql.op(
                "CreateProject",
                owner.token,
                input={"workspaceId": workspace["id"], "name": f"P{p}"},
            )
            member = await make_user(f"m{w}x{p}")
            await add_member(owner, workspace, member, "MEMBER")
            invite = {
                "workspaceId": workspace["id"],
                "email": f"i{w}x{p}@example.com",
                "role": "VIEWER",
            }
            await gql.op("InviteMember", owner.token, input=invite)


async def _count(gql, sql_log, token: str) -> tuple[int, dict]:
    with sql_log() as log:
        body = await gql.query(WORKSPACE_TREE, token=token)
    assert "errors" not in body, body
    return log.count, body["data"]


@BOTH_PATHS
async def test_workspace_tree_statements_do_not_grow_with_data(
    gql, make_user, make_workspace, add_member, sql_log
) -> None:
    owner = await make_user("owner")
    await _grow(gql, make_user, make_workspace, add_member, owner, workspaces=1, per=1)
    small, small_data = await _count(gql, sql_log, owner.token)

    await _grow(gql, make_user, make_workspace, add_member, owner, workspaces=9, per=3)
    large, large_data = await _count(gql, sql_log, owner.token)

    assert small_data["workspaces"]["totalCount"] == 1
    assert large_data["workspaces"]["totalCount"] == 10
    edges = large_data["workspaces"]["edges"]
    assert sum(e["node"]["members"]["totalCount"] for e in edges) == 1 + 1 + 9 * 4
    assert small == large
    assert large <= 12


CONVERSATION_TREE = """
query Tree($id: ID!) {
  workspace(id: $id) {
    name
    conversations(first: 10) { totalCount edges { node {
      id title messageCount
      messages(first: 20) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id role createdAt } }
      }
    } } }
  }
}
"""
SEED_CONVERSATIONS = """
WITH conv AS (
  INSERT INTO conversations (id, workspace_id, title, status, metadata, total_cost)
  SELECT gen_random_uuid(), :ws, 'chat ' || n, 'active', '{}'::jsonb, 0
  FROM generate_series(1, :conversations) AS n RETURNING id
)
INSERT INTO messages (id, conversation_id, role, content, status, created_at)
SELECT gen_random_uuid(), conv.id, 'user', 'text ' || n, 'completed',
       now() + n * interval '1 second'
FROM conv, generate_series(1, :messages) AS n
"""


async def _tree(gql, sql_log, db_engine, workspace: dict, owner, conversations: int, messages: int):
    params = {"ws": decode_id(workspace["id"], "Workspace"), "conversations": conversations}
    async with db_engine.begin() as conn:
        await conn.execute(text(SEED_CONVERSATIONS), {**params, "messages": messages})
    with sql_log() as log:
        body = await gql.query(CONVERSATION_TREE, {"id": workspace["id"]}, owner.token)
    assert "errors" not in body, body
    return log.statements, body["data"]["workspace"]["conversations"]


def _reading(statements: list[str], table: str) -> list[str]:
    return [s for s in statements if f"FROM {table}" in s]


@BOTH_PATHS
async def test_conversation_tree_reads_each_level_in_one_statement(
    gql, make_user, make_workspace, db_engine, sql_log, settings
) -> None:
    """Given workspaces of 2x2 and 12x25 conversations x messages, the tree query runs the
    same statements: one per level, each page cut in SQL with its count beside it (with
    compiled reads, all levels are that one statement)."""
    owner = await make_user("owner")
    small_ws, large_ws = await make_workspace(owner, "Small"), await make_workspace(owner, "Large")
    small, small_tree = await _tree(gql, sql_log, db_engine, small_ws, owner, 2, 2)
    large, large_tree = await _tree(gql, sql_log, db_engine, large_ws, owner, 12, 25)

    assert (small_tree["totalCount"], large_tree["totalCount"]) == (2, 12)
    pages = [edge["node"]["messages"] for edge in large_tree["edges"]]
    assert len(pages) == 10
    assert all(p["totalCount"] == 25 and len(p["edges"]) == 20 for p in pages)
    assert all(p["pageInfo"]["hasNextPage"] and p["pageInfo"]["endCursor"] for p in pages)
    assert len(small) == len(large) <= 4
    conversations, messages = _reading(large, "conversations"), _reading(large, "messages")
    assert len(conversations) == 1
    assert "LIMIT" in conversations[0]
    assert len(messages) == 1
    assert "LATERAL" in messages[0]
    assert not any("content" in s for s in messages), "content was not selected"
    assert [s.startswith(COMPILED_SQL) for s in messages] == [settings.compiled_reads]
