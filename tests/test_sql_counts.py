"""Constant SQL per request: the same query shape runs the same number of statements
whatever the amount of data (here: workspaces with members and projects)."""

from __future__ import annotations

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
) -> None:  # type: ignore[no-untyped-def]
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


async def _count(gql, sql_log, token: str) -> tuple[int, dict]:  # type: ignore[no-untyped-def]
    with sql_log() as log:
        body = await gql.query(WORKSPACE_TREE, token=token)
    assert "errors" not in body, body
    return log.count, body["data"]


async def test_workspace_tree_statements_do_not_grow_with_data(
    gql, make_user, make_workspace, add_member, sql_log
) -> None:  # type: ignore[no-untyped-def]
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
