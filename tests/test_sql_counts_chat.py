"""Constant SQL per request for the chat graph: workspace -> conversations -> messages ->
feedback, tags, LLM, usage (and the same through ``node``/``nodes``), at two data sizes
ten times apart. Data is bulk-inserted with SQL so the large size stays cheap."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from synapse_gql.gql.relay import decode_id, to_global_id

MESSAGE_TREE = """
  id title status messageCount totalCost
  agent { name llm { modelId } } project { name } createdBy { name }
  tags { name }
  llmUsage { callCount llm { modelId } }
  messages(last: 20) { totalCount edges { node {
    id content role author { name } llm { modelId } parent { id }
    tags { name }
    feedback(first: 5) { totalCount edges { node { value user { name } } } }
    viewerFeedback { value }
    usage { cost llm { modelId } }
  } } }
"""
WORKSPACE_QUERY = f"""
query Tree($id: ID!) {{
  workspace(id: $id) {{
    conversations(first: 20) {{ totalCount edges {{ node {{ {MESSAGE_TREE} }} }} }}
  }}
}}
"""
NODES_QUERY = f"""
query Nodes($ids: [ID!]!) {{
  nodes(ids: $ids) {{ ... on Conversation {{ {MESSAGE_TREE} }} }}
}}
"""

SEED = """
WITH llm AS (SELECT id FROM llms WHERE model_id = 'synapse-dev'),
agent AS (
  INSERT INTO agents (id, workspace_id, name, llm_id, status, parameters)
  SELECT gen_random_uuid(), :ws, 'Helper', llm.id, 'active', '{}'::jsonb FROM llm RETURNING id
),
tag AS (
  INSERT INTO tags (id, workspace_id, name, source) VALUES (gen_random_uuid(), :ws, :tag, 'manual')
  RETURNING id
),
conv AS (
  INSERT INTO conversations (id, workspace_id, agent_id, created_by_id, title, status, metadata,
    total_cost)
  SELECT gen_random_uuid(), :ws, agent.id, :user, 'chat ' || n, 'active', '{}'::jsonb, 0
  FROM agent, generate_series(1, :conversations) AS n RETURNING id
),
ctag AS (
  INSERT INTO conversation_tags (conversation_id, tag_id) SELECT conv.id, tag.id FROM conv, tag
),
cllm AS (
  INSERT INTO conversation_llms (id, conversation_id, llm_id, call_count, total_cost)
  SELECT gen_random_uuid(), conv.id, llm.id, 1, 0 FROM conv, llm
),
msg AS (
  INSERT INTO messages (id, conversation_id, role, content, status, author_id, llm_id, created_at)
  SELECT gen_random_uuid(), conv.id, 'assistant', 'reply ' || n, 'completed', :user, llm.id,
         now() + n * interval '1 second'
  FROM conv, llm, generate_series(1, :messages) AS n RETURNING id, conversation_id
),
mtag AS (INSERT INTO message_tags (message_id, tag_id) SELECT msg.id, tag.id FROM msg, tag),
fb AS (
  INSERT INTO message_feedback (id, message_id, user_id, rating_type, value, is_public)
  SELECT gen_random_uuid(), msg.id, :user, 'thumbs', 1, false FROM msg
)
INSERT INTO usage_logs (id, user_id, workspace_id, conversation_id, message_id, llm_id, provider,
  model_id, input_tokens, output_tokens, total_tokens, tokens_estimated, input_price_per_million,
  output_price_per_million, cost, status, parameters, api_key_source)
SELECT gen_random_uuid(), :user, :ws, msg.conversation_id, msg.id, llm.id, 'mock', 'synapse-dev',
  10, 20, 30, false, 0, 0, 0, 'success', '{}'::jsonb, 'user'
FROM msg, llm
"""


async def _seed(engine, workspace: dict, owner, conversations: int, messages: int) -> None:
    params = {
        "ws": decode_id(workspace["id"], "Workspace"),
        "user": decode_id(owner.id, "User"),
        "tag": f"t{uuid.uuid4().hex[:8]}",
        "conversations": conversations,
        "messages": messages,
    }
    async with engine.begin() as conn:
        await conn.execute(text(SEED), params)


async def _conversation_ids(engine, workspace: dict) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id FROM conversations WHERE workspace_id = :ws ORDER BY created_at"),
            {"ws": decode_id(workspace["id"], "Workspace")},
        )
        return [to_global_id("Conversation", row.id) for row in rows]


async def _run(gql, sql_log, query: str, variables: dict, token: str) -> tuple[int, dict]:
    with sql_log() as log:
        body = await gql.query(query, variables, token)
    assert "errors" not in body, body["errors"]
    return log.count, body["data"]


async def _sizes(gql, make_user, make_workspace, db_engine, sql_log, query_for):
    owner = await make_user("owner")
    small_ws = await make_workspace(owner, "Small")
    large_ws = await make_workspace(owner, "Large")
    await _seed(db_engine, small_ws, owner, conversations=2, messages=2)
    await _seed(db_engine, large_ws, owner, conversations=20, messages=20)
    small = await _run(gql, sql_log, *await query_for(small_ws), owner.token)
    large = await _run(gql, sql_log, *await query_for(large_ws), owner.token)
    return small, large


def _conversations(data: dict) -> list[dict]:
    if "workspace" in data:
        return [e["node"] for e in data["workspace"]["conversations"]["edges"]]
    return data["nodes"]


async def test_workspace_chat_tree_statements_are_constant(
    gql, make_user, make_workspace, db_engine, sql_log
) -> None:
    async def query_for(workspace: dict) -> tuple[str, dict]:
        return WORKSPACE_QUERY, {"id": workspace["id"]}

    (small, small_data), (large, large_data) = await _sizes(
        gql, make_user, make_workspace, db_engine, sql_log, query_for
    )
    big = _conversations(large_data)
    assert len(_conversations(small_data)) == 2
    assert len(big) == 20
    assert all(c["messages"]["totalCount"] == 20 for c in big)
    assert all(
        m["node"]["usage"] and m["node"]["feedback"]["totalCount"] == 1
        for c in big
        for m in c["messages"]["edges"]
    )
    assert small == large
    assert large <= 25


async def test_nodes_chat_tree_statements_are_constant(
    gql, make_user, make_workspace, db_engine, sql_log
) -> None:
    async def query_for(workspace: dict) -> tuple[str, dict]:
        return NODES_QUERY, {"ids": await _conversation_ids(db_engine, workspace)}

    (small, _), (large, large_data) = await _sizes(
        gql, make_user, make_workspace, db_engine, sql_log, query_for
    )
    assert len(_conversations(large_data)) == 20
    assert all(c["tags"] for c in _conversations(large_data))
    assert small == large
    assert large <= 25
