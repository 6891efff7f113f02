"""Round trips per request: the operation's reads share one connection in autocommit, so a
request sends its statements and nothing else (no BEGIN/ROLLBACK, no pre-ping; one
checkout for the bearer token's user, one for the operation), the same at two data sizes;
mutations keep their transactions."""

from __future__ import annotations

from tests.compiled_support import BOTH_PATHS, COMPILED_SQL
from tests.sqlcount import StatementLog
from tests.test_sql_counts import WORKSPACE_TREE, _grow

ONE_ROW = "query One($id: ID!) { node(id: $id) { ... on Workspace { name } } }"
# The connection that reads the bearer token's user returns to the pool while the document
# is parsed and validated; the operation's reads then take one connection for all of them.
CHECKOUTS = 2


def _sent(log: StatementLog) -> tuple[int, int, int, int]:
    """(statements, transaction statements, pings, checkouts)."""
    return log.count, len(log.transaction_statements), log.pings, log.checkouts


async def _tree(gql, sql_log, token: str) -> tuple[tuple[int, int, int, int], int]:
    with sql_log() as log:
        body = await gql.query(WORKSPACE_TREE, token=token)
    assert "errors" not in body, body
    return _sent(log), body["data"]["workspaces"]["totalCount"]


@BOTH_PATHS
async def test_workspace_tree_round_trips_do_not_grow_with_data(
    gql, make_user, make_workspace, add_member, sql_log
) -> None:
    """Given 1 then 10 workspaces with members, projects and invitations, when the owner
    reads the tree, then both requests send the same statements, and no transaction
    statement nor ping, over at most two checkouts (the token's user, the operation)."""
    owner = await make_user("owner")
    await _grow(gql, make_user, make_workspace, add_member, owner, workspaces=1, per=1)
    small, small_total = await _tree(gql, sql_log, owner.token)
    await _grow(gql, make_user, make_workspace, add_member, owner, workspaces=9, per=3)
    large, large_total = await _tree(gql, sql_log, owner.token)

    assert (small_total, large_total) == (1, 10)
    assert small == large
    assert large[1:3] == (0, 0)
    assert large[3] <= CHECKOUTS


@BOTH_PATHS
async def test_one_row_query_sends_its_statements_and_nothing_else(
    gql, make_user, make_workspace, sql_log, settings
) -> None:
    """Given a workspace, when its owner reads its name by id, then the request sends the
    bearer token's user and the row, and nothing else."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner, "W")
    with sql_log() as log:
        body = await gql.query(ONE_ROW, {"id": workspace["id"]}, owner.token)
    assert body["data"]["node"] == {"name": "W"}
    assert _sent(log)[1:3] == (0, 0)
    assert log.checkouts <= CHECKOUTS
    assert log.round_trips == log.count <= 3
    assert any(s.startswith(COMPILED_SQL) for s in log.statements) == settings.compiled_reads


async def test_a_mutation_keeps_its_transaction(gql, make_user, sql_log) -> None:
    """Given a user, when they create a workspace, then its writes run in a transaction
    (BEGIN ... COMMIT) while the reads around it send none."""
    owner = await make_user("owner")
    with sql_log() as log:
        data = await gql.op("CreateWorkspace", owner.token, input={"name": "T"})
    assert data["createWorkspace"]["name"] == "T"
    words = [s.split()[0].rstrip(";").upper() for s in log.transaction_statements]
    assert words[0] == "BEGIN"
    assert words.count("BEGIN") == words.count("COMMIT") == 1
    assert log.pings == 0
