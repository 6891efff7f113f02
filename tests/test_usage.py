"""The usage log, read through workspaces, users, models, conversations, messages and node."""

from __future__ import annotations

from decimal import Decimal

import pytest

from synapse_gql.gql.relay import to_global_id
from tests.helpers import error_codes
from tests.ledger import (
    db_id,
    dev_llm,
    insert_conversation,
    insert_message,
    insert_usage,
    iso,
)


@pytest.fixture
async def team(make_user, make_workspace, add_member):
    """Workspace A with an owner, a member and a viewer; an outsider owning workspace B."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner, "A")
    member, viewer = await make_user("member"), await make_user("viewer")
    await add_member(owner, workspace, member, "MEMBER")
    await add_member(owner, workspace, viewer, "VIEWER")
    outsider = await make_user("outsider")
    other = await make_workspace(outsider, "B")
    return workspace, owner, member, viewer, outsider, other


async def workspace_usage(gql, actor, workspace: dict, **variables) -> dict | None:
    data = await gql.op("WorkspaceUsage", actor.token, workspaceId=workspace["id"], **variables)
    return None if data["workspace"] is None else data["workspace"]["usageLogs"]


def ids(page: dict) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def gid(row_id) -> str:
    return to_global_id("UsageLog", row_id)


async def test_member_reads_every_field(gql, team, db_engine) -> None:
    """Given a failed call recorded in a conversation, when a member lists the workspace's
    usage, then every field is returned as stored, with its related objects."""
    workspace, owner, member, _, _, _ = team
    project = await gql.op(
        "CreateProject", owner.token, input={"workspaceId": workspace["id"], "name": "P"}
    )
    project_id = project["createProject"]["id"]
    conversation = await insert_conversation(db_engine, workspace["id"])
    message = await insert_message(db_engine, conversation)
    row = await insert_usage(
        db_engine,
        workspace["id"],
        member.id,
        1,
        project_id=db_id(project_id),
        conversation_id=conversation,
        message_id=message,
        tokens_estimated=True,
        status="error",
        error_code="PROVIDER_ERROR",
        error_message="upstream 500",
        api_key_source="user",
    )
    [node] = [e["node"] for e in (await workspace_usage(gql, member, workspace))["edges"]]
    assert node["id"] == gid(row)
    assert (node["provider"], node["modelId"], node["llm"]["id"]) == (
        "mock",
        "synapse-dev",
        to_global_id("LLM", await dev_llm(db_engine)),
    )
    assert (node["inputTokens"], node["outputTokens"], node["totalTokens"]) == (10, 20, 30)
    assert node["tokensEstimated"] is True
    prices = ("inputPricePerMillion", "outputPricePerMillion", "cost")
    assert [Decimal(node[k]) for k in prices] == [Decimal("1.5"), 2, Decimal("0.000055")]
    assert (node["latencyMs"], node["timeToFirstTokenMs"]) == (120, 40)
    assert (node["status"], node["errorCode"], node["errorMessage"]) == (
        "ERROR",
        "PROVIDER_ERROR",
        "upstream 500",
    )
    assert (node["parameters"], node["apiKeySource"]) == ({"temperature": 0.5}, "USER")
    assert node["createdAt"].startswith("2025-03-01T13:00:00")
    assert node["user"] == {"id": member.id}
    assert node["workspace"] == {"id": workspace["id"]}
    assert node["project"] == {"id": project_id}
    assert node["conversation"] == {"id": to_global_id("Conversation", conversation)}
    assert node["message"] == {"id": to_global_id("Message", message)}


async def test_viewers_and_outsiders_see_no_usage(gql, team, db_engine) -> None:
    """Given usage in workspace A, when a viewer lists it, then the connection is empty;
    an outsider does not even see the workspace, by ID or as a node."""
    workspace, owner, _, viewer, outsider, _ = team
    await insert_usage(db_engine, workspace["id"], owner.id, 1)
    page = await workspace_usage(gql, viewer, workspace)
    assert (page["totalCount"], page["edges"]) == (0, [])
    assert await workspace_usage(gql, outsider, workspace) is None
    query = "query ($id: ID!) { node(id: $id) { ... on Workspace { usageLogs { totalCount } } } }"
    body = await gql.query(query, {"id": workspace["id"]}, outsider.token)
    assert body["data"]["node"] is None


async def test_owner_sees_usage_newest_first(gql, team, db_engine) -> None:
    """Given three calls, when the owner lists them, then they come newest first, counted."""
    workspace, owner, member, _, _, _ = team
    rows = [await insert_usage(db_engine, workspace["id"], member.id, h) for h in (2, 0, 1)]
    page = await workspace_usage(gql, owner, workspace)
    assert ids(page) == [gid(rows[0]), gid(rows[2]), gid(rows[1])]
    assert page["totalCount"] == 3


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (1, 3, [2, 1]),
        (3, None, [4, 3]),
        (None, 1, [0]),
        (None, None, [4, 3, 2, 1, 0]),
    ],
)
async def test_time_range(gql, team, db_engine, since, until, expected) -> None:
    """Given a call each hour, when filtered, then since is inclusive and until exclusive,
    and totalCount follows the filter."""
    workspace, owner, _, _, _, _ = team
    rows = [await insert_usage(db_engine, workspace["id"], owner.id, h) for h in range(5)]
    bounds = {
        "since": None if since is None else iso(since),
        "until": None if until is None else iso(until),
    }
    page = await workspace_usage(gql, owner, workspace, **bounds)
    assert ids(page) == [gid(rows[h]) for h in expected]
    assert page["totalCount"] == len(expected)


@pytest.mark.parametrize("until", [0, -1])
async def test_until_must_follow_since(gql, team, until) -> None:
    """Given until at or before since, when listing, then INVALID_INPUT on `until`."""
    workspace, owner, _, _, _, _ = team
    query = """query ($id: ID!, $since: DateTime, $until: DateTime) {
      workspace(id: $id) { usageLogs(since: $since, until: $until) { totalCount } } }"""
    variables = {"id": workspace["id"], "since": iso(0), "until": iso(until)}
    body = await gql.query(query, variables, owner.token)
    assert error_codes(body) == ["INVALID_INPUT"]
    assert body["errors"][0]["extensions"]["path"] == ["until"]


async def test_pagination_both_ways(gql, team, db_engine) -> None:
    """Given five calls, when paging two at a time forwards then backwards, then the pages
    follow each other without gaps or repeats."""
    workspace, owner, _, _, _, _ = team
    rows = [await insert_usage(db_engine, workspace["id"], owner.id, h) for h in range(5)]
    newest = [gid(r) for r in reversed(rows)]
    first = await workspace_usage(gql, owner, workspace, first=2)
    assert (ids(first), first["pageInfo"]["hasNextPage"]) == (newest[:2], True)
    second = await workspace_usage(
        gql, owner, workspace, first=2, after=first["pageInfo"]["endCursor"]
    )
    assert (ids(second), second["pageInfo"]["hasPreviousPage"]) == (newest[2:4], True)
    third = await workspace_usage(
        gql, owner, workspace, first=2, after=second["pageInfo"]["endCursor"]
    )
    assert (ids(third), third["pageInfo"]["hasNextPage"]) == (newest[4:], False)
    last = await workspace_usage(gql, owner, workspace, last=2)
    assert ids(last) == newest[3:]
    before = await workspace_usage(
        gql, owner, workspace, last=2, before=last["pageInfo"]["startCursor"]
    )
    assert ids(before) == newest[1:3]


async def test_my_usage_is_only_mine(gql, team, db_engine) -> None:
    """Given calls by the owner and a member, when each reads me.usageLogs, then each sees
    their own; the member's usage read through node(User) by the owner is empty."""
    workspace, owner, member, _, _, _ = team
    mine = await insert_usage(db_engine, workspace["id"], owner.id, 1)
    theirs = await insert_usage(db_engine, workspace["id"], member.id, 2)
    own = (await gql.op("MyUsage", owner.token))["me"]["usageLogs"]
    assert (ids(own), own["totalCount"]) == ([gid(mine)], 1)
    assert ids((await gql.op("MyUsage", member.token))["me"]["usageLogs"]) == [gid(theirs)]
    other = (await gql.op("UserUsage", owner.token, userId=member.id))["node"]
    assert (other["usageLogs"]["totalCount"], other["usageLogs"]["edges"]) == (0, [])
    ranged = await gql.op("MyUsage", owner.token, since=iso(2))
    assert ranged["me"]["usageLogs"]["edges"] == []


async def test_llm_usage_is_limited_to_my_workspaces(gql, team, db_engine) -> None:
    """Given calls of one model in workspaces A and B, when each side reads LLM.usageLogs,
    then each sees only its own workspace's calls; A's viewer sees none."""
    workspace, owner, _, viewer, outsider, other = team
    in_a = await insert_usage(db_engine, workspace["id"], owner.id, 1)
    in_b = await insert_usage(db_engine, other["id"], outsider.id, 2)
    llm = to_global_id("LLM", await dev_llm(db_engine))
    for actor, expected in ((owner, [gid(in_a)]), (outsider, [gid(in_b)]), (viewer, [])):
        page = (await gql.op("LlmUsage", actor.token, llmId=llm))["node"]["usageLogs"]
        assert (ids(page), page["totalCount"]) == (expected, len(expected))
    ranged = await gql.op("LlmUsage", owner.token, llmId=llm, until=iso(1))
    assert ranged["node"]["usageLogs"]["edges"] == []


async def test_usage_node_is_for_members(gql, team, db_engine) -> None:
    """Given a call in A, when fetched by ID, then members and owners get it; the viewer,
    the outsider and anonymous callers get null."""
    workspace, owner, member, viewer, outsider, _ = team
    row = gid(await insert_usage(db_engine, workspace["id"], member.id, 1))
    for actor in (owner, member):
        node = (await gql.op("UsageNode", actor.token, id=row))["node"]
        assert (node["__typename"], node["id"], node["user"]) == (
            "UsageLog",
            row,
            {"id": member.id},
        )
    for actor in (viewer, outsider):
        assert (await gql.op("UsageNode", actor.token, id=row))["node"] is None
    assert (await gql.op("UsageNode", id=row))["node"] is None


async def test_other_tenant_sees_nothing_of_a(gql, team, db_engine) -> None:
    """Given a call in A attributed to B's owner (who is not a member of A), when B's owner
    looks through every field, then none of A's usage shows."""
    workspace, _, _, _, outsider, other = team
    row = await insert_usage(db_engine, workspace["id"], outsider.id, 1)
    in_b = await insert_usage(db_engine, other["id"], outsider.id, 2)
    mine = (await gql.op("MyUsage", outsider.token))["me"]["usageLogs"]
    assert (gid(row) in ids(mine), mine["totalCount"]) == (False, 1)
    llm = to_global_id("LLM", await dev_llm(db_engine))
    page = (await gql.op("LlmUsage", outsider.token, llmId=llm))["node"]["usageLogs"]
    assert (gid(row) in ids(page), page["totalCount"]) == (False, 1)
    assert (await gql.op("UsageNode", outsider.token, id=gid(row)))["node"] is None
    assert await workspace_usage(gql, outsider, workspace) is None
    assert ids(await workspace_usage(gql, outsider, other)) == [gid(in_b)]


BATCHED = """{ workspaces { edges { node { id
  usageLogs(first: 1) { totalCount edges { node { id user { id } llm { id } } } } } } } }"""


async def test_usage_of_many_workspaces_is_batched(
    gql, make_user, make_workspace, db_engine, sql_log
) -> None:
    """Given a user in several workspaces with usage, when listing each workspace's usage
    in one query, then each gets its own rows, and the statements do not grow with the
    number of workspaces."""
    owner = await make_user("owner")
    spaces = [await make_workspace(owner, f"W{i}") for i in range(4)]
    for i, space in enumerate(spaces):
        for h in range(i + 1):
            await insert_usage(db_engine, space["id"], owner.id, h)
    with sql_log() as log:
        body = await gql.query(BATCHED, token=owner.token)
    assert "errors" not in body, body
    counts = {
        e["node"]["id"]: e["node"]["usageLogs"]["totalCount"]
        for e in body["data"]["workspaces"]["edges"]
    }
    assert counts == {space["id"]: i + 1 for i, space in enumerate(spaces)}
    await make_workspace(owner, "W4")
    with sql_log() as bigger:
        await gql.query(BATCHED, token=owner.token)
    assert bigger.count == log.count


async def test_message_usage_is_the_latest_call(gql, team, db_engine) -> None:
    """Given a message with a failed then a successful call, when a member reads its
    usage, then it is the latest one; a viewer of the workspace gets none."""
    workspace, owner, member, viewer, _, _ = team
    conversation = await insert_conversation(db_engine, workspace["id"])
    message = await insert_message(db_engine, conversation)
    await insert_usage(db_engine, workspace["id"], owner.id, 1, message_id=message, status="error")
    latest = await insert_usage(db_engine, workspace["id"], owner.id, 2, message_id=message)
    query = "query ($id: ID!) { node(id: $id) { ... on Message { usage { id status } } } }"
    variables = {"id": to_global_id("Message", message)}
    body = await gql.query(query, variables, member.token)
    assert body["data"]["node"]["usage"] == {"id": gid(latest), "status": "SUCCESS"}
    body = await gql.query(query, variables, viewer.token)
    assert body["data"]["node"] in (None, {"usage": None})


async def test_conversation_usage(gql, team, db_engine) -> None:
    """Given calls in two conversations, when a member reads one conversation's usage,
    then only its calls show, newest first and filtered by time; a viewer gets none and
    an outsider does not see the conversation."""
    workspace, _, member, viewer, outsider, _ = team
    chat, other = [await insert_conversation(db_engine, workspace["id"]) for _ in range(2)]
    rows = [
        await insert_usage(db_engine, workspace["id"], member.id, h, conversation_id=chat)
        for h in range(3)
    ]
    await insert_usage(db_engine, workspace["id"], member.id, 5, conversation_id=other)
    target = to_global_id("Conversation", chat)
    page = (await gql.op("ConversationUsage", member.token, conversationId=target))["node"]
    assert ids(page["usageLogs"]) == [gid(r) for r in reversed(rows)]
    ranged = await gql.op(
        "ConversationUsage", member.token, conversationId=target, since=iso(1), first=1
    )
    assert ids(ranged["node"]["usageLogs"]) == [gid(rows[2])]
    assert ranged["node"]["usageLogs"]["totalCount"] == 2
    seen = (await gql.op("ConversationUsage", viewer.token, conversationId=target))["node"]
    assert seen is None or seen["usageLogs"]["totalCount"] == 0
    assert (await gql.op("ConversationUsage", outsider.token, conversationId=target))[
        "node"
    ] is None


PAGE = """query Page($id: ID!, $after: String) { workspace(id: $id) {
  usageLogs(first: 2, after: $after) { pageInfo { endCursor hasNextPage } edges { node { id } } }
} }"""


async def test_pages_are_cut_by_keyset_at_any_depth(gql, team, db_engine, sql_log) -> None:
    """Given seven calls, two of them at the same time, when paging two at a time, then the
    pages cover every row once, newest first (ties by id), and the fourth page runs the same
    statement as the first: ``ORDER BY created_at DESC, id DESC LIMIT 3`` from the cursor,
    with no row numbering and no count (``totalCount`` is not selected)."""
    workspace, owner, member, _, _, _ = team
    hours = (0, 1, 2, 3, 3, 4, 5)
    rows = [(h, await insert_usage(db_engine, workspace["id"], member.id, h)) for h in hours]
    expected = [gid(row_id) for _, row_id in sorted(rows, reverse=True)]
    seen, after, usage_statements = [], None, []
    while True:
        with sql_log() as log:
            body = await gql.query(PAGE, {"id": workspace["id"], "after": after}, owner.token)
        page = body["data"]["workspace"]["usageLogs"]
        seen += ids(page)
        usage_statements.append([s for s in log.statements if "FROM usage_logs" in s])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected
    assert [len(statements) for statements in usage_statements] == [1, 1, 1, 1]
    for [statement] in usage_statements:
        assert "ORDER BY usage_logs.created_at DESC, usage_logs.id DESC" in statement
        assert "LIMIT" in statement
        assert "row_number" not in statement
        assert "count(" not in statement
