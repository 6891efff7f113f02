"""Conversations: start, rename, archive, restore and delete by role; filtered, sorted lists."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from synapse_gql.gql.relay import to_global_id
from tests.conversation_helpers import (
    BASE_TIME,
    Team,
    add_message,
    add_tag,
    db_id,
    make_team,
    start,
    tag,
    token,
)
from tests.helpers import execute, fetch, scalar, user_error

DENIED = [("viewer", "FORBIDDEN"), ("outsider", "NOT_FOUND"), ("anonymous", "UNAUTHENTICATED")]


@pytest.fixture
async def team(make_user, make_workspace, add_member) -> Team:
    return await make_team(make_user, make_workspace, add_member)


async def create_project(gql, team: Team, workspace: dict | None = None) -> dict:
    given = {"workspaceId": (workspace or team.workspace)["id"], "name": "P"}
    return (await gql.op("CreateProject", team.owner.token, input=given))["createProject"]


async def create_agent(gql, db_engine, team: Team, workspace: dict | None = None) -> dict:
    llm = await scalar(db_engine, "SELECT id FROM llms WHERE model_id = 'synapse-dev'")
    given = {
        "workspaceId": (workspace or team.workspace)["id"],
        "name": "Bot",
        "llmId": to_global_id("LLM", llm),
    }
    return (await gql.op("CreateAgent", team.owner.token, input=given))["createAgent"]


async def stored(db_engine, conversation: dict):
    sql = "SELECT title, status FROM conversations WHERE id = :id"
    [row] = await fetch(db_engine, sql, id=db_id(conversation["id"]))
    return row


async def titles(gql, team: Team, **variables) -> list[str]:
    """Titles as ``workspace.conversations`` lists them for the owner."""
    ws = team.workspace["id"]
    data = await gql.op("WorkspaceConversations", team.owner.token, workspaceId=ws, **variables)
    return [e["node"]["title"] for e in data["workspace"]["conversations"]["edges"]]


async def mutate(gql, operation: str, actor, **variables) -> dict:
    data = await gql.op(operation, token(actor), **variables)
    return data[operation[0].lower() + operation[1:]]


async def test_member_starts_conversation(gql, team, db_engine) -> None:
    """Given a member, when they start a conversation with a project, agent and metadata,
    then it is active, theirs, titled by default and has zero totals."""
    project = await create_project(gql, team)
    agent = await create_agent(gql, db_engine, team)
    result = await start(
        gql,
        team.member,
        team.workspace,
        projectId=project["id"],
        agentId=agent["id"],
        metadata={"source": "web"},
    )
    assert result["__typename"] == "Conversation", result
    assert (result["title"], result["status"], result["metadata"]) == (
        "New conversation",
        "ACTIVE",
        {"source": "web"},
    )
    assert (result["project"], result["agent"]) == (
        {"id": project["id"]},
        {"id": agent["id"], "name": "Bot"},
    )
    assert (result["workspace"], result["createdBy"]) == (
        {"id": team.workspace["id"]},
        {"id": team.member.id},
    )
    totals = (result["messageCount"], result["totalInputTokens"], result["totalOutputTokens"])
    assert (totals, Decimal(result["totalCost"]), result["lastMessageAt"]) == ((0, 0, 0), 0, None)
    assert await titles(gql, team) == ["New conversation"]


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        ({"title": "   "}, "INVALID_INPUT", "title"),
        ({"title": "t" * 301}, "INVALID_INPUT", "title"),
        ({"metadata": [1]}, "INVALID_INPUT", "metadata"),
        ({"metadata": {"x": "y" * 16_400}}, "INVALID_INPUT", "metadata"),
        ({"projectId": to_global_id("Project", uuid.uuid4())}, "NOT_FOUND", "projectId"),
        ({"agentId": to_global_id("Agent", uuid.uuid4())}, "NOT_FOUND", "agentId"),
        ({"agentId": to_global_id("Project", uuid.uuid4())}, "INVALID_ID", "agentId"),
    ],
)
async def test_start_validates(gql, team, db_engine, given, code, field) -> None:
    """Given bad input, when starting a conversation, then an error on that field, no row."""
    user_error(await start(gql, team.member, team.workspace, **given), code, ["input", field])
    assert await scalar(db_engine, "SELECT count(*) FROM conversations") == 0


async def test_project_and_agent_of_another_workspace(gql, team, db_engine, make_workspace) -> None:
    """Given a project and an agent of the owner's other workspace, when used, then
    NOT_FOUND on each, and no row."""
    other = await make_workspace(team.owner, "Other")
    project = await create_project(gql, team, other)
    agent = await create_agent(gql, db_engine, team, other)
    result = await start(gql, team.owner, team.workspace, projectId=project["id"])
    user_error(result, "NOT_FOUND", ["input", "projectId"])
    result = await start(gql, team.owner, team.workspace, agentId=agent["id"])
    user_error(result, "NOT_FOUND", ["input", "agentId"])
    assert await scalar(db_engine, "SELECT count(*) FROM conversations") == 0


@pytest.mark.parametrize(("who", "code"), DENIED)
async def test_denied_callers_cannot_start(gql, team, db_engine, who, code) -> None:
    """Given a viewer, an outsider or no login, when starting a conversation, then refused."""
    result = await start(gql, team.caller(who), team.workspace, title="Nope")
    user_error(result, code, None if who == "anonymous" else ["input", "workspaceId"])
    assert await scalar(db_engine, "SELECT count(*) FROM conversations") == 0


async def test_rename(gql, team, db_engine) -> None:
    """Given the owner's conversation, when a member renames it, then the title changes;
    when the title is blank or too long, then INVALID_INPUT and it stays."""
    conversation = await start(gql, team.owner, team.workspace)
    given = {"id": conversation["id"], "title": " Plans "}
    result = await mutate(gql, "RenameConversation", team.member, input=given)
    assert (result["__typename"], result["title"]) == ("Conversation", "Plans")
    for bad in ("", "x" * 301):
        given = {"id": conversation["id"], "title": bad}
        result = await mutate(gql, "RenameConversation", team.member, input=given)
        user_error(result, "INVALID_INPUT", ["input", "title"])
    assert (await stored(db_engine, conversation)).title == "Plans"


@pytest.mark.parametrize(("who", "code"), DENIED)
async def test_denied_callers_cannot_rename(gql, team, db_engine, who, code) -> None:
    """Given the owner's conversation, when a denied caller renames it, then the title stays."""
    conversation = await start(gql, team.owner, team.workspace)
    given = {"id": conversation["id"], "title": "Hijacked"}
    result = await mutate(gql, "RenameConversation", team.caller(who), input=given)
    user_error(result, code, None if who == "anonymous" else ["input", "id"])
    assert (await stored(db_engine, conversation)).title == "New conversation"


async def test_creator_keeps_control_after_demotion(gql, team, db_engine) -> None:
    """Given a member's conversation, when the member becomes a viewer, then they may still
    rename, archive and delete their own conversation."""
    conversation = await start(gql, team.member, team.workspace)
    change = {"workspaceId": team.workspace["id"], "userId": team.member.id, "role": "VIEWER"}
    await gql.op("ChangeMemberRole", team.owner.token, input=change)
    given = {"id": conversation["id"], "title": "Mine"}
    renamed = await mutate(gql, "RenameConversation", team.member, input=given)
    assert renamed["title"] == "Mine"
    archived = await mutate(gql, "ArchiveConversation", team.member, id=conversation["id"])
    assert archived["status"] == "ARCHIVED"
    deleted = await mutate(gql, "DeleteConversation", team.member, id=conversation["id"])
    assert deleted == {"__typename": "Deleted", "id": conversation["id"]}
    assert await scalar(db_engine, "SELECT count(*) FROM conversations") == 0


async def test_archive_and_restore(gql, team) -> None:
    """Given two conversations, when one is archived, then the default list hides it, the
    ARCHIVED filter shows it and status null shows both; when restored, then it is back."""
    kept = await start(gql, team.member, team.workspace, title="Kept")
    old = await start(gql, team.member, team.workspace, title="Old")
    archived = await mutate(gql, "ArchiveConversation", team.member, id=old["id"])
    assert (archived["__typename"], archived["status"]) == ("Conversation", "ARCHIVED")
    assert await titles(gql, team) == ["Kept"]
    assert await titles(gql, team, filter={"status": "ARCHIVED"}) == ["Old"]
    assert await titles(gql, team, filter={"status": None}) == ["Old", "Kept"]
    restored = await mutate(gql, "RestoreConversation", team.member, id=old["id"])
    assert restored["status"] == "ACTIVE"
    assert await titles(gql, team) == ["Old", "Kept"]
    assert kept["status"] == "ACTIVE"


@pytest.mark.parametrize("operation", ["ArchiveConversation", "RestoreConversation"])
@pytest.mark.parametrize(("who", "code"), DENIED)
async def test_denied_callers_cannot_change_status(
    gql, team, db_engine, operation, who, code
) -> None:
    """Given the owner's conversation, when a denied caller archives or restores it, then
    the status stays."""
    conversation = await start(gql, team.owner, team.workspace)
    result = await mutate(gql, operation, team.caller(who), id=conversation["id"])
    user_error(result, code, None if who == "anonymous" else ["id"])
    assert (await stored(db_engine, conversation)).status == "active"


async def test_delete_removes_messages(gql, team, db_engine) -> None:
    """Given a conversation with a message, when a member deletes it, then both are gone
    and its ID resolves to null."""
    conversation = await start(gql, team.owner, team.workspace)
    await add_message(db_engine, conversation, minute=1, author=team.owner)
    result = await mutate(gql, "DeleteConversation", team.member, id=conversation["id"])
    assert result == {"__typename": "Deleted", "id": conversation["id"]}
    assert await scalar(db_engine, "SELECT count(*) FROM messages") == 0
    data = await gql.op("ConversationNode", team.owner.token, id=conversation["id"])
    assert data["node"] is None


@pytest.mark.parametrize(("who", "code"), DENIED)
async def test_denied_callers_cannot_delete(gql, team, db_engine, who, code) -> None:
    """Given the owner's conversation, when a denied caller deletes it, then it remains."""
    conversation = await start(gql, team.owner, team.workspace)
    result = await mutate(gql, "DeleteConversation", team.caller(who), id=conversation["id"])
    user_error(result, code, None if who == "anonymous" else ["id"])
    assert await scalar(db_engine, "SELECT count(*) FROM conversations") == 1


async def test_node_is_visible_to_members_only(gql, team) -> None:
    """Given a conversation, when a viewer and an outsider refetch it, then only the viewer
    sees it."""
    conversation = await start(gql, team.owner, team.workspace, title="Secret")
    seen = (await gql.op("ConversationNode", team.viewer.token, id=conversation["id"]))["node"]
    assert (seen["__typename"], seen["title"], seen["llmUsage"]) == ("Conversation", "Secret", [])
    hidden = await gql.op("ConversationNode", team.outsider.token, id=conversation["id"])
    assert hidden["node"] is None


async def test_filters(gql, team, db_engine) -> None:
    """Given conversations of different projects, agents and titles, when filtering by
    each, then only the matching ones are listed, with a matching totalCount."""
    project = await create_project(gql, team)
    agent = await create_agent(gql, db_engine, team)
    await start(gql, team.owner, team.workspace, title="100% Sure", projectId=project["id"])
    await start(gql, team.owner, team.workspace, title="snake_case", agentId=agent["id"])
    await start(gql, team.owner, team.workspace, title="Plain 100 sure")
    assert await titles(gql, team, filter={"projectId": project["id"]}) == ["100% Sure"]
    assert await titles(gql, team, filter={"agentId": agent["id"]}) == ["snake_case"]
    assert await titles(gql, team, filter={"titleContains": "0% s"}) == ["100% Sure"]
    assert await titles(gql, team, filter={"titleContains": "E_C"}) == ["snake_case"]
    assert await titles(gql, team, filter={"titleContains": "SURE"}) == [
        "Plain 100 sure",
        "100% Sure",
    ]
    data = await gql.op(
        "ProjectConversations",
        team.viewer.token,
        projectId=project["id"],
        filter={"titleContains": "sure"},
    )
    listed = data["node"]["conversations"]
    assert (listed["totalCount"], [e["node"]["title"] for e in listed["edges"]]) == (
        1,
        ["100% Sure"],
    )


async def test_tag_filters(gql, team, db_engine) -> None:
    """Given conversations tagged red, blue or both, when filtering on red and blue, then
    ANY lists all three and ALL only the one with both."""
    red, blue = (
        await add_tag(db_engine, team.workspace, "red"),
        await add_tag(db_engine, team.workspace, "blue"),
    )
    for title, tags in (("R", [red]), ("B", [blue]), ("RB", [red, blue]), ("None", [])):
        await tag(db_engine, await start(gql, team.owner, team.workspace, title=title), *tags)
    both = {"tagIds": [red, blue]}
    assert await titles(gql, team, filter=both) == ["RB", "B", "R"]
    assert await titles(gql, team, filter={**both, "tagMatch": "ALL"}) == ["RB"]
    assert await titles(gql, team, filter={"tagIds": [red], "tagMatch": "ALL"}) == ["RB", "R"]
    data = await gql.op(
        "WorkspaceConversations",
        team.owner.token,
        workspaceId=team.workspace["id"],
        filter={**both, "tagMatch": "ALL"},
    )
    assert data["workspace"]["conversations"]["totalCount"] == 1


async def test_date_filters(gql, team, db_engine) -> None:
    """Given conversations created and updated on different days, when filtering by dates,
    then after is inclusive and before exclusive."""
    for day in range(3):
        conversation = await start(gql, team.owner, team.workspace, title=f"Day {day}")
        await execute(
            db_engine,
            "UPDATE conversations SET created_at = :c, updated_at = :u WHERE id = :id",
            c=BASE_TIME + timedelta(days=day),
            u=BASE_TIME + timedelta(days=10 - day),
            id=db_id(conversation["id"]),
        )
    day1 = (BASE_TIME + timedelta(days=1)).isoformat()
    day9 = (BASE_TIME + timedelta(days=9)).isoformat()
    assert await titles(gql, team, filter={"createdAfter": day1}, orderBy="CREATED") == [
        "Day 2",
        "Day 1",
    ]
    assert await titles(gql, team, filter={"createdBefore": day1}) == ["Day 0"]
    assert await titles(gql, team, filter={"updatedAfter": day9}, orderBy="CREATED") == [
        "Day 1",
        "Day 0",
    ]
    assert await titles(gql, team, filter={"updatedBefore": day9}) == ["Day 2"]
    window = {"createdAfter": day1, "updatedBefore": day9}
    assert await titles(gql, team, filter=window) == ["Day 2"]


async def test_order_by_activity_or_creation(gql, team, db_engine) -> None:
    """Given an old conversation with a recent message and two newer silent ones, when
    sorted by LAST_ACTIVITY, then the old one comes first; by CREATED, then it comes last;
    and both orders page forwards and backwards."""
    for day, title in enumerate(("Old", "Middle", "New")):
        conversation = await start(gql, team.owner, team.workspace, title=title)
        await execute(
            db_engine,
            "UPDATE conversations SET created_at = :c WHERE id = :id",
            c=BASE_TIME + timedelta(days=day),
            id=db_id(conversation["id"]),
        )
    await execute(
        db_engine,
        "UPDATE conversations SET last_message_at = :t WHERE title = 'Old'",
        t=BASE_TIME + timedelta(days=5),
    )
    assert await titles(gql, team) == ["Old", "New", "Middle"]
    assert await titles(gql, team, orderBy="CREATED") == ["New", "Middle", "Old"]
    ws = team.workspace["id"]
    first = await gql.op("WorkspaceConversations", team.owner.token, workspaceId=ws, first=2)
    cursor = first["workspace"]["conversations"]["pageInfo"]["endCursor"]
    assert await titles(gql, team, first=2, after=cursor) == ["Middle"]
    assert await titles(gql, team, last=2) == ["New", "Middle"]
    last = await gql.op(
        "WorkspaceConversations", team.owner.token, workspaceId=ws, orderBy="CREATED", last=1
    )
    page = last["workspace"]["conversations"]
    assert page["pageInfo"]["hasPreviousPage"] is True
    before = page["pageInfo"]["startCursor"]
    assert await titles(gql, team, orderBy="CREATED", last=2, before=before) == ["New", "Middle"]


async def test_lists_are_batched_per_workspace(gql, team, make_workspace) -> None:
    """Given two workspaces of one owner, when listing conversations of every workspace in
    one query, then each workspace gets only its own."""
    other = await make_workspace(team.owner, "Other")
    await start(gql, team.owner, team.workspace, title="Here")
    await start(gql, team.owner, other, title="There")
    query = """{ workspaces { edges { node { name conversations(orderBy: CREATED) {
      totalCount edges { node { title } } } } } } }"""
    body = await gql.query(query, token=team.owner.token)
    found = {
        e["node"]["name"]: [c["node"]["title"] for c in e["node"]["conversations"]["edges"]]
        for e in body["data"]["workspaces"]["edges"]
    }
    assert found == {"Team": ["Here"], "Other": ["There"]}
