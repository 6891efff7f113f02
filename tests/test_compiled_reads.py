"""Compiled reads: a query made only of fields with a SQL form is answered by one statement
that builds the response in PostgreSQL, whatever the amount of data; plans are decided
once per operation; everything else (and any argument the resolvers would refuse) takes
the resolvers, with their answers and errors."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from synapse_gql.compiled import plan
from synapse_gql.gql.relay import decode_id, to_global_id

COMPILED = "SELECT json_build_object("
TREE = """
query Tree($id: ID!, $first: Int, $after: String, $withCursor: Boolean!) {
  workspace(id: $id) {
    __typename name plan settings createdAt
    conversations(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges {
        cursor @include(if: $withCursor)
        node {
          ...Thread
          messages(first: 3) { totalCount nodes { id role content createdAt cost } }
        }
      }
    }
  }
}
fragment Thread on Conversation { id title status totalCost lastMessageAt }
"""
SEED = """
WITH conv AS (
  INSERT INTO conversations (id, workspace_id, title, status, metadata, total_cost, created_at)
  SELECT gen_random_uuid(), :ws, 'chat ' || n, 'active', '{}'::jsonb, n * 0.0125,
         timestamp '2026-03-01 12:00:00+00' + n * interval '1 minute'
  FROM generate_series(1, :conversations) AS n RETURNING id
)
INSERT INTO messages (id, conversation_id, role, content, status, cost, created_at)
SELECT gen_random_uuid(), conv.id, 'assistant', 'text ' || n, 'completed', n * 0.5,
       timestamp '2026-03-01 12:00:00.5+00' + n * interval '1 second'
FROM conv, generate_series(1, :messages) AS n
"""


async def _seed(db_engine, workspace: dict, conversations: int, messages: int) -> None:
    params = {"ws": decode_id(workspace["id"], "Workspace"), "conversations": conversations}
    async with db_engine.begin() as conn:
        await conn.execute(text(SEED), {**params, "messages": messages})


def _settings(app) -> Any:
    return app.state.synapse.settings


async def _read(gql, sql_log, query: str, variables: dict, token: str | None):
    """The answer (data and errors; the rate limit's extensions change per request) and
    the statements the request ran."""
    with sql_log() as log:
        body = await gql.query(query, variables, token)
    return {key: body[key] for key in ("data", "errors") if key in body}, log


async def _both_ways(app, gql, sql_log, query: str, variables: dict, token: str | None):
    """The compiled answer, its statement log, and the resolvers' answer."""
    compiled, log = await _read(gql, sql_log, query, variables, token)
    _settings(app).compiled_reads = False
    try:
        resolved, off = await _read(gql, sql_log, query, variables, token)
    finally:
        _settings(app).compiled_reads = True
    assert not [s for s in off.statements if s.startswith(COMPILED)]
    return compiled, log, resolved


def _compiled(log) -> list[str]:
    return [s for s in log.statements if s.startswith(COMPILED)]


async def test_a_tree_is_one_statement_at_any_size(
    app, gql, make_user, make_workspace, db_engine, sql_log
) -> None:
    """Given workspaces of 2x2 and 12x6 conversations x messages, when the tree is read
    (counts, page info, cursors, a fragment, a directive), then each request runs one
    data statement, no transaction statement, and answers as the resolvers do."""
    owner = await make_user("owner")
    small_ws, large_ws = await make_workspace(owner, "Small"), await make_workspace(owner, "Large")
    await _seed(db_engine, small_ws, 2, 2)
    await _seed(db_engine, large_ws, 12, 6)
    logs = []
    for workspace, size in ((small_ws, 2), (large_ws, 12)):
        variables = {"id": workspace["id"], "first": 5, "after": None, "withCursor": True}
        compiled, log, resolved = await _both_ways(app, gql, sql_log, TREE, variables, owner.token)
        assert "errors" not in compiled, compiled
        assert compiled == resolved
        assert compiled["data"]["workspace"]["conversations"]["totalCount"] == size
        assert len(_compiled(log)) == 1
        assert not log.transaction_statements
        logs.append(log)
    assert logs[0].count == logs[1].count <= 2  # the statement (and the caller's lookup)

    page = compiled["data"]["workspace"]["conversations"]
    assert page["pageInfo"]["hasNextPage"]
    assert not page["pageInfo"]["hasPreviousPage"]
    assert page["edges"][0]["node"]["messages"]["nodes"][0]["cost"] == "0.5"
    after = {"id": large_ws["id"], "first": 5, "after": page["pageInfo"]["endCursor"]}
    variables = {**after, "withCursor": False}
    compiled, log, resolved = await _both_ways(app, gql, sql_log, TREE, variables, owner.token)
    assert compiled == resolved
    assert len(_compiled(log)) == 1
    assert compiled["data"]["workspace"]["conversations"]["pageInfo"]["hasPreviousPage"]
    assert "cursor" not in compiled["data"]["workspace"]["conversations"]["edges"][0]


async def test_plans_are_decided_once_per_operation(
    gql, make_user, make_workspace, sql_log, monkeypatch
) -> None:
    """Given one document sent three times with other variables, then whether it compiles
    is decided on its first request only."""
    decided: list[str] = []
    original = plan.compilable

    def counted(schema, operation, fragments):
        decided.append(operation.name.value if operation.name else "")
        return original(schema, operation, fragments)

    monkeypatch.setattr(plan, "compilable", counted)
    monkeypatch.setattr(plan, "PLANS", plan.PlanCache())
    monkeypatch.setattr("synapse_gql.compiled.execution.PLANS", plan.PLANS)
    owner = await make_user("owner")
    query = "query One($id: ID!) { node(id: $id) { id ... on Workspace { name } } }"
    for name in ("A", "B", "C"):
        workspace = await make_workspace(owner, name)
        body, log = await _read(gql, sql_log, query, {"id": workspace["id"]}, owner.token)
        assert body["data"]["node"] == {"id": workspace["id"], "name": name}
        assert len(_compiled(log)) == 1
    assert decided == ["One"]


FALLBACKS = {
    # A field without a SQL form (loaded by its resolver).
    "viewerRole": ("query Q($id: ID!) { workspace(id: $id) { name viewerRole } }", {}),
    # Arguments the resolvers refuse: their errors, exactly.
    "bad id": ("query Q($id: ID!) { node(id: $id) { id } }", {"id": "not-an-id"}),
    "page size": (
        "query Q($id: ID!) { workspace(id: $id) { conversations(first: 100000) { totalCount"
        " nodes { id } } } }",
        {},
    ),
    "bad cursor": (
        'query Q($id: ID!) { workspace(id: $id) { conversations(first: 1, after: "x")'
        " { nodes { id } } } }",
        {},
    ),
    "filter": (
        "query Q($id: ID!) { workspace(id: $id) { conversations(filter: {status: null})"
        " { nodes { id } } } }",
        {},
    ),
}


@pytest.mark.parametrize("case", sorted(FALLBACKS))
async def test_what_has_no_sql_form_takes_the_resolvers(
    app, gql, make_user, make_workspace, sql_log, case: str
) -> None:
    """Given a query with a field, an argument or a filter the compiler does not handle,
    then no statement is compiled and the answer (errors included) is the resolvers'."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner, "Team")
    query, extra = FALLBACKS[case]
    variables = {"id": workspace["id"], **extra}
    compiled, log, resolved = await _both_ways(app, gql, sql_log, query, variables, owner.token)
    assert not _compiled(log)
    assert compiled == resolved


async def test_authorization_and_callers_in_sql(
    app, gql, make_user, make_workspace, sql_log
) -> None:
    """Given another tenant's workspace, when read by id, by node and in a list, then the
    compiled statement hides it as the resolvers do; an anonymous caller, and any caller
    while compiled reads are off, take the resolvers."""
    owner, stranger = await make_user("owner"), await make_user("stranger")
    workspace = await make_workspace(owner, "Private")
    query = (
        "query Q($id: ID!, $ids: [ID!]!) { workspace(id: $id) { name }"
        " nodes(ids: $ids) { id } workspaces(first: 5) { totalCount nodes { name } } }"
    )
    missing = to_global_id("Conversation", decode_id(workspace["id"], "Workspace"))
    variables = {"id": workspace["id"], "ids": [workspace["id"], missing]}
    compiled, log, resolved = await _both_ways(app, gql, sql_log, query, variables, stranger.token)
    assert compiled == resolved
    assert len(_compiled(log)) == 1
    assert compiled["data"] == {
        "workspace": None,
        "nodes": [None, None],
        "workspaces": {"totalCount": 0, "nodes": []},
    }
    mine, log = await _read(gql, sql_log, query, variables, owner.token)
    assert mine["data"]["workspace"] == {"name": "Private"}
    assert len(_compiled(log)) == 1

    anonymous, log = await _read(gql, sql_log, query, variables, None)
    assert not _compiled(log)
    assert anonymous["errors"]
    _settings(app).compiled_reads = False
    try:
        _, log = await _read(gql, sql_log, query, variables, owner.token)
    finally:
        _settings(app).compiled_reads = True
    assert not _compiled(log)
