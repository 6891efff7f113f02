"""Tags: create, update, delete by role; apply to conversations, messages and projects;
list a workspace's tags and the entities carrying a tag."""

from __future__ import annotations

import asyncio

import pytest

from tests.chat_rows import insert_conversation, insert_message
from tests.helpers import fetch, scalar, user_error

LINKS = (
    "SELECT (SELECT count(*) FROM conversation_tags) + (SELECT count(*) FROM message_tags)"
    " + (SELECT count(*) FROM project_tags)"
)


async def create(gql, actor, workspace: dict, name: str = "Bug", **extra) -> dict:
    given = {"workspaceId": workspace["id"], "name": name, **extra}
    return (await gql.op("CreateTag", actor.token, input=given))["createTag"]


async def update(gql, actor, tag: dict, **changes) -> dict:
    return (await gql.op("UpdateTag", actor.token, input={"id": tag["id"], **changes}))["updateTag"]


async def link(gql, actor, operation: str, tag: dict, field: str, entity: str) -> dict:
    token = actor.token if actor else None
    data = await gql.op(operation, token, input={"tagId": tag["id"], field: entity})
    return data[operation[0].lower() + operation[1:]]


async def listed(gql, actor, workspace: dict, **variables) -> list[str]:
    data = await gql.op("WorkspaceTags", actor.token, workspaceId=workspace["id"], **variables)
    return [e["node"]["name"] for e in data["workspace"]["tags"]["edges"]]


async def tagged(gql, actor, tag: dict, **variables) -> dict:
    return (await gql.op("TaggedEntities", actor.token, id=tag["id"], **variables))["node"]


@pytest.fixture
async def team(make_user, make_workspace, add_member):
    """A workspace with an owner, a member and a viewer, and an outsider with their own."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    member, viewer = await make_user("member"), await make_user("viewer")
    await add_member(owner, workspace, member, "MEMBER")
    await add_member(owner, workspace, viewer, "VIEWER")
    outsider = await make_user("outsider")
    elsewhere = await make_workspace(outsider, "Elsewhere")
    return workspace, owner, member, viewer, outsider, elsewhere


@pytest.fixture
async def chat(team, db_engine):
    """A conversation with one message in the team's workspace: (conversation, message)."""
    conversation = await insert_conversation(db_engine, team[0], "Support")
    return conversation, await insert_message(db_engine, conversation, "Answer")


async def test_member_creates_tag_with_defaults(gql, team) -> None:
    """Given a member, when they create a tag without colour, then it is grey, manual, theirs."""
    workspace, _, member, viewer, *_ = team
    tag = await create(gql, member, workspace, " Bug ")
    assert tag["__typename"] == "Tag"
    assert (tag["name"], tag["color"], tag["category"], tag["source"]) == (
        "Bug",
        "#6b7280",
        None,
        "MANUAL",
    )
    assert tag["createdBy"] == {"id": member.id}
    assert tag["workspace"] == {"id": workspace["id"]}
    assert await listed(gql, viewer, workspace) == ["Bug"]


async def test_colour_is_normalised_and_category_kept(gql, team) -> None:
    """Given an upper-case colour and a category, then the colour is stored lower-case."""
    workspace, owner, *_ = team
    tag = await create(gql, owner, workspace, color="#FFAA00", category="triage")
    assert (tag["color"], tag["category"]) == ("#ffaa00", "triage")


async def test_names_are_unique_per_workspace_regardless_of_case(gql, team, db_engine) -> None:
    """Given a tag "Bug", when "bug" is created in the same workspace, then ALREADY_EXISTS;
    in another workspace the same name is fine."""
    workspace, owner, member, _, outsider, elsewhere = team
    await create(gql, owner, workspace, "Bug")
    user_error(await create(gql, member, workspace, " bug"), "ALREADY_EXISTS", ["input", "name"])
    assert (await create(gql, outsider, elsewhere, "bug"))["__typename"] == "Tag"
    assert await scalar(db_engine, "SELECT count(*) FROM tags") == 2


async def test_concurrent_creates_keep_names_unique(gql, team, db_engine) -> None:
    """Given ten concurrent creations of "Bug" in varying case, then exactly one succeeds
    and the others get ALREADY_EXISTS."""
    workspace, owner, *_ = team
    names = ["Bug", "bug", "BUG", "bUg", "buG"] * 2
    results = await asyncio.gather(*(create(gql, owner, workspace, n) for n in names))
    assert sorted(r["__typename"] for r in results) == ["Tag"] + ["UserError"] * 9
    assert {r["code"] for r in results if r["__typename"] == "UserError"} == {"ALREADY_EXISTS"}
    assert await scalar(db_engine, "SELECT count(*) FROM tags") == 1


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ({"name": ""}, ["input", "name"]),
        ({"name": "   "}, ["input", "name"]),
        ({"name": "x" * 65}, ["input", "name"]),
        ({"color": "red"}, ["input", "color"]),
        ({"color": "#12345"}, ["input", "color"]),
        ({"color": "#gggggg"}, ["input", "color"]),
        ({"category": "c" * 65}, ["input", "category"]),
    ],
)
async def test_create_validates(gql, team, db_engine, given, path) -> None:
    """Given a member, when a field is out of bounds, then INVALID_INPUT and no row."""
    workspace, _, member, *_ = team
    user_error(
        await create(gql, member, workspace, **{"name": "Ok", **given}), "INVALID_INPUT", path
    )
    assert await scalar(db_engine, "SELECT count(*) FROM tags") == 0


async def test_denied_callers_cannot_create(gql, team, db_engine) -> None:
    """Given a viewer, an outsider and no login, when they create a tag, then FORBIDDEN,
    NOT_FOUND and UNAUTHENTICATED, and no row is written."""
    workspace, _, _, viewer, outsider, _ = team
    path = ["input", "workspaceId"]
    user_error(await create(gql, viewer, workspace), "FORBIDDEN", path)
    user_error(await create(gql, outsider, workspace), "NOT_FOUND", path)
    anonymous = await gql.op("CreateTag", input={"workspaceId": workspace["id"], "name": "A"})
    user_error(anonymous["createTag"], "UNAUTHENTICATED")
    assert await scalar(db_engine, "SELECT count(*) FROM tags") == 0


async def test_update_renames_recolours_and_clears_category(gql, team, db_engine) -> None:
    """Given a categorised tag, when a member renames it (case only), recolours it and
    clears its category, then all three change."""
    workspace, owner, member, *_ = team
    tag = await create(gql, owner, workspace, "bug", category="triage")
    result = await update(gql, member, tag, name="BUG", color="#00FF00", category=None)
    assert (result["name"], result["color"], result["category"]) == ("BUG", "#00ff00", None)
    [row] = await fetch(db_engine, "SELECT name, color, category FROM tags")
    assert tuple(row) == ("BUG", "#00ff00", None)


async def test_update_rejects_taken_name_and_bad_colour(gql, team, db_engine) -> None:
    """Given tags Bug and Idea, when Idea is renamed "bug" or recoloured badly, then
    ALREADY_EXISTS or INVALID_INPUT and it stays as it was."""
    workspace, owner, *_ = team
    await create(gql, owner, workspace, "Bug")
    idea = await create(gql, owner, workspace, "Idea")
    user_error(await update(gql, owner, idea, name="bug"), "ALREADY_EXISTS", ["input", "name"])
    user_error(await update(gql, owner, idea, color="blue"), "INVALID_INPUT", ["input", "color"])
    rows = await fetch(db_engine, "SELECT color FROM tags WHERE name = 'Idea'")
    assert [r.color for r in rows] == ["#6b7280"]


async def test_denied_callers_cannot_update_or_delete(gql, team, db_engine) -> None:
    """Given a tag, when a viewer or an outsider updates or deletes it, then FORBIDDEN or
    NOT_FOUND and the tag is unchanged."""
    workspace, owner, _, viewer, outsider, _ = team
    tag = await create(gql, owner, workspace)
    for actor, code in ((viewer, "FORBIDDEN"), (outsider, "NOT_FOUND")):
        user_error(await update(gql, actor, tag, name="Nope"), code, ["input", "id"])
        deleted = (await gql.op("DeleteTag", actor.token, id=tag["id"]))["deleteTag"]
        user_error(deleted, code, ["id"])
    assert await scalar(db_engine, "SELECT name FROM tags") == "Bug"


async def test_delete_removes_the_tag_and_its_links(gql, team, chat, db_engine) -> None:
    """Given a tag on a conversation and a message, when a member deletes it, then the tag
    and its links are gone."""
    workspace, owner, member, *_ = team
    conversation, message = chat
    tag = await create(gql, owner, workspace)
    await link(gql, owner, "TagConversation", tag, "conversationId", conversation)
    await link(gql, owner, "TagMessage", tag, "messageId", message)
    deleted = (await gql.op("DeleteTag", member.token, id=tag["id"]))["deleteTag"]
    assert deleted == {"__typename": "Deleted", "id": tag["id"]}
    assert await scalar(db_engine, "SELECT count(*) FROM tags") == 0
    assert await scalar(db_engine, LINKS) == 0


KINDS = [
    ("TagConversation", "UntagConversation", "conversationId", "conversation_tags"),
    ("TagMessage", "UntagMessage", "messageId", "message_tags"),
    ("TagProject", "UntagProject", "projectId", "project_tags"),
]


async def entity_of(gql, chat, owner, workspace, field: str) -> str:
    if field == "projectId":
        input = {"workspaceId": workspace["id"], "name": "P"}
        return (await gql.op("CreateProject", owner.token, input=input))["createProject"]["id"]
    return chat[0] if field == "conversationId" else chat[1]


@pytest.mark.parametrize(("tag_op", "untag_op", "field", "table"), KINDS)
async def test_tagging_is_idempotent_both_ways(
    gql, team, chat, db_engine, tag_op, untag_op, field, table
) -> None:
    """Given a tag, when a member applies it twice, then one link exists and the tag is
    returned; when they remove it twice, then no link is left and both calls succeed."""
    workspace, owner, member, *_ = team
    entity = await entity_of(gql, chat, owner, workspace, field)
    tag = await create(gql, owner, workspace)
    for _ in range(2):
        result = await link(gql, member, tag_op, tag, field, entity)
        assert (result["__typename"], result["id"]) == ("Tag", tag["id"])
    assert await scalar(db_engine, f"SELECT count(*) FROM {table}") == 1
    for _ in range(2):
        assert (await link(gql, member, untag_op, tag, field, entity))["__typename"] == "Tag"
    assert await scalar(db_engine, f"SELECT count(*) FROM {table}") == 0


@pytest.mark.parametrize(("tag_op", "untag_op", "field", "table"), KINDS)
async def test_denied_callers_cannot_tag(
    gql, team, chat, db_engine, tag_op, untag_op, field, table
) -> None:
    """Given a tag, when a viewer, an outsider or an anonymous caller applies it, then
    FORBIDDEN, NOT_FOUND or UNAUTHENTICATED and nothing is linked."""
    workspace, owner, _, viewer, outsider, _ = team
    entity = await entity_of(gql, chat, owner, workspace, field)
    tag = await create(gql, owner, workspace)
    user_error(await link(gql, viewer, tag_op, tag, field, entity), "FORBIDDEN", ["input", "tagId"])
    user_error(
        await link(gql, outsider, tag_op, tag, field, entity), "NOT_FOUND", ["input", "tagId"]
    )
    user_error(await link(gql, None, tag_op, tag, field, entity), "UNAUTHENTICATED")
    await link(gql, owner, tag_op, tag, field, entity)
    user_error(
        await link(gql, viewer, untag_op, tag, field, entity), "FORBIDDEN", ["input", "tagId"]
    )
    assert await scalar(db_engine, f"SELECT count(*) FROM {table}") == 1


async def test_tag_and_entity_must_share_a_workspace(gql, team, db_engine, add_member) -> None:
    """Given a tag of one workspace and a conversation of another, when a member of both
    applies it, then INVALID_INPUT; when a member of only the tag's workspace does, then the
    conversation is NOT_FOUND. Nothing is linked."""
    workspace, owner, member, _, outsider, elsewhere = team
    await add_member(outsider, elsewhere, owner, "MEMBER")
    foreign = await insert_conversation(db_engine, elsewhere, "Theirs")
    tag = await create(gql, owner, workspace)
    result = await link(gql, owner, "TagConversation", tag, "conversationId", foreign)
    user_error(result, "INVALID_INPUT", ["input", "tagId"])
    result = await link(gql, member, "TagConversation", tag, "conversationId", foreign)
    user_error(result, "NOT_FOUND", ["input", "conversationId"])
    assert await scalar(db_engine, LINKS) == 0


async def test_missing_and_mistyped_ids(gql, team, chat) -> None:
    """Given a deleted tag or an ID of the wrong type, then NOT_FOUND or INVALID_ID with
    the input's path."""
    workspace, owner, *_ = team
    conversation, message = chat
    tag = await create(gql, owner, workspace)
    result = await link(gql, owner, "TagMessage", tag, "messageId", conversation)
    user_error(result, "INVALID_ID", ["input", "messageId"])
    await gql.op("DeleteTag", owner.token, id=tag["id"])
    result = await link(gql, owner, "TagMessage", tag, "messageId", message)
    user_error(result, "NOT_FOUND", ["input", "tagId"])


async def test_entities_by_tag_and_tags_of_entities(gql, team, db_engine) -> None:
    """Given conversations, messages and a project tagged Bug or Idea, when listing Bug's
    entities, then only Bug's show, newest first, each with all its tags by name."""
    workspace, owner, _, viewer, *_ = team
    bug, idea = (
        await create(gql, owner, workspace, "Bug"),
        await create(gql, owner, workspace, "Idea"),
    )
    first, second, other = [
        await insert_conversation(db_engine, workspace, t) for t in ("First", "Second", "Other")
    ]
    message = await insert_message(db_engine, first, "Tagged answer")
    await insert_message(db_engine, first, "Untagged answer")
    project = await entity_of(gql, None, owner, workspace, "projectId")
    for conversation in (first, second):
        await link(gql, owner, "TagConversation", bug, "conversationId", conversation)
    for conversation in (second, other):
        await link(gql, owner, "TagConversation", idea, "conversationId", conversation)
    await link(gql, owner, "TagMessage", bug, "messageId", message)
    await link(gql, owner, "TagProject", idea, "projectId", project)
    node = await tagged(gql, viewer, bug)
    assert [
        (c["title"], [t["name"] for t in c["tags"]]) for c in node["conversations"]["nodes"]
    ] == [
        ("Second", ["Bug", "Idea"]),
        ("First", ["Bug"]),
    ]
    assert node["messages"]["nodes"] == [
        {"id": message, "content": "Tagged answer", "tags": [{"name": "Bug"}]}
    ]
    assert (node["messages"]["totalCount"], node["projects"]["totalCount"]) == (1, 0)
    assert [p["name"] for p in (await tagged(gql, viewer, idea))["projects"]["nodes"]] == ["P"]
    projects = await gql.op("ProjectTags", viewer.token, workspaceId=workspace["id"])
    assert projects["workspace"]["projects"]["nodes"][0]["tags"][0]["name"] == "Idea"


async def test_entities_by_tag_paginate(gql, team, db_engine) -> None:
    """Given three tagged conversations, when paging two at a time, then the pages join up."""
    workspace, owner, *_ = team
    tag = await create(gql, owner, workspace)
    for title in ("A", "B", "C"):
        conversation = await insert_conversation(db_engine, workspace, title)
        await link(gql, owner, "TagConversation", tag, "conversationId", conversation)
    page = (await tagged(gql, owner, tag, first=2))["conversations"]
    assert ([c["title"] for c in page["nodes"]], page["totalCount"]) == (["C", "B"], 3)
    cursor = page["pageInfo"]["endCursor"]
    rest = (await tagged(gql, owner, tag, first=2, after=cursor))["conversations"]
    assert ([c["title"] for c in rest["nodes"]], rest["pageInfo"]["hasNextPage"]) == (["A"], False)


async def test_workspace_tags_sort_filter_and_paginate(gql, team) -> None:
    """Given tags in mixed case and categories, when listed, then they sort by name
    ignoring case, filter by category, and page with cursors."""
    workspace, owner, _, viewer, *_ = team
    for name, category in (("beta", "x"), ("Alpha", None), ("gamma", "x"), ("Delta", "y")):
        await create(gql, owner, workspace, name, category=category)
    assert await listed(gql, viewer, workspace) == ["Alpha", "beta", "Delta", "gamma"]
    assert await listed(gql, viewer, workspace, category="x") == ["beta", "gamma"]
    data = await gql.op("WorkspaceTags", viewer.token, workspaceId=workspace["id"], first=3)
    cursor = data["workspace"]["tags"]["pageInfo"]["endCursor"]
    assert await listed(gql, viewer, workspace, first=3, after=cursor) == ["gamma"]


async def test_tag_is_a_node_for_members_only(gql, team) -> None:
    """Given a tag, when a viewer refetches it by ID, then it resolves; for an outsider null."""
    workspace, owner, _, viewer, outsider, _ = team
    tag = await create(gql, owner, workspace)
    assert (await tagged(gql, viewer, tag))["name"] == "Bug"
    assert await tagged(gql, outsider, tag) is None


async def test_listing_statements_do_not_grow_with_tags(gql, team, db_engine, sql_log) -> None:
    """Given one then five tags each on two conversations, when listing every tag with its
    conversations and their tags, then the number of SQL statements stays the same."""
    workspace, owner, *_ = team
    query = """query ($id: ID!) { workspace(id: $id) { tags(first: 50) { nodes {
      name conversations(first: 10) { totalCount nodes { title tags { name } } } } } } }"""

    async def grow(count: int) -> int:
        for n in range(count):
            tag = await create(gql, owner, workspace, f"T{count}-{n}")
            for title in ("x", "y"):
                conversation = await insert_conversation(db_engine, workspace, title)
                await link(gql, owner, "TagConversation", tag, "conversationId", conversation)
        with sql_log() as log:
            body = await gql.query(query, {"id": workspace["id"]}, owner.token)
        assert "errors" not in body, body
        return log.count

    assert await grow(1) == await grow(4)
    assert await scalar(db_engine, "SELECT count(*) FROM conversation_tags") == 10
