"""Workspaces: creation, updates, deletion, members and their roles, pagination."""

from __future__ import annotations

import uuid

import pytest

from synapse_gql.gql.relay import decode_id, to_global_id
from tests.helpers import error_codes, fetch, scalar, user_error


async def workspace_name(db_engine, workspace_id: str) -> str | None:
    """The name stored for a workspace, None when the row is gone."""
    sql = "SELECT name FROM workspaces WHERE id = :id"
    rows = await fetch(db_engine, sql, id=decode_id(workspace_id, "Workspace"))
    return rows[0].name if rows else None


async def read_workspace(gql, token: str, workspace_id: str) -> dict | None:
    return (await gql.op("Workspace", token, id=workspace_id))["workspace"]


def member_roles(workspace: dict) -> dict[str, str]:
    """User id -> role, from the ``members`` connection of a ``Workspace`` query."""
    return {e["node"]["user"]["id"]: e["node"]["role"] for e in workspace["members"]["edges"]}


async def team_with(make_user, make_workspace, add_member, *roles: str):
    """An owner, a workspace and one new user per role in ``roles``."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    others = []
    for role in roles:
        user = await make_user(role.lower())
        await add_member(owner, workspace, user, role)
        others.append(user)
    return owner, workspace, others


# --- create ---------------------------------------------------------------------------


async def test_creator_is_owner(gql, make_user) -> None:
    """Given a user, when they create a workspace, then they are its only member and owner."""
    user = await make_user("ada")
    data = await gql.op("CreateWorkspace", user.token, input={"name": "  Research  "})
    workspace = data["createWorkspace"]
    assert workspace["__typename"] == "Workspace"
    assert (workspace["name"], workspace["slug"]) == ("Research", "research")
    assert workspace["viewerRole"] == "OWNER"
    assert workspace["owner"]["id"] == user.id
    assert workspace["settings"] == {}
    listed = await read_workspace(gql, user.token, workspace["id"])
    assert member_roles(listed) == {user.id: "OWNER"}


async def test_derived_slugs_are_unique(gql, make_user, make_workspace) -> None:
    """Given a "Team" workspace, when another "Team" is created, then it gets another slug."""
    user = await make_user()
    first = await make_workspace(user, "Team")
    second = await make_workspace(user, "Team")
    assert first["slug"] == "team"
    assert second["slug"] not in ("team", "")
    assert second["slug"].startswith("team")


@pytest.mark.parametrize(
    ("given", "code", "path"),
    [
        ({"name": "Other", "slug": "taken"}, "SLUG_TAKEN", ["input", "slug"]),
        ({"name": "Other", "slug": "Not A Slug!"}, "INVALID_INPUT", ["input", "slug"]),
        ({"name": "Other", "slug": "-edge-"}, "INVALID_INPUT", ["input", "slug"]),
        ({"name": "   "}, "INVALID_INPUT", ["input", "name"]),
        ({"name": ""}, "INVALID_INPUT", ["input", "name"]),
    ],
)
async def test_create_rejects_bad_input(gql, make_user, db_engine, given, code, path) -> None:
    """Given the slug "taken" exists, when creating with bad input, then a UserError and
    no new row."""
    user = await make_user()
    await gql.op("CreateWorkspace", user.token, input={"name": "Taken", "slug": "taken"})
    result = (await gql.op("CreateWorkspace", user.token, input=given))["createWorkspace"]
    user_error(result, code, path)
    assert await scalar(db_engine, "SELECT count(*) FROM workspaces") == 1


# --- update and delete ----------------------------------------------------------------


async def test_admin_updates_workspace(gql, make_user, make_workspace, add_member) -> None:
    """Given an admin, when they rename and configure, then the workspace changes."""
    _, workspace, (admin,) = await team_with(make_user, make_workspace, add_member, "ADMIN")
    changes = {"id": workspace["id"], "name": "Renamed", "settings": {"theme": "dark"}}
    result = (await gql.op("UpdateWorkspace", admin.token, input=changes))["updateWorkspace"]
    assert result["__typename"] == "Workspace"
    assert (result["name"], result["settings"]) == ("Renamed", {"theme": "dark"})
    assert result["slug"] == workspace["slug"]


async def test_member_cannot_update(gql, make_user, make_workspace, add_member, db_engine) -> None:
    """Given a plain member, when they rename the workspace, then FORBIDDEN and no change."""
    _, workspace, (member,) = await team_with(make_user, make_workspace, add_member, "MEMBER")
    changes = {"id": workspace["id"], "name": "Hijacked"}
    result = (await gql.op("UpdateWorkspace", member.token, input=changes))["updateWorkspace"]
    user_error(result, "FORBIDDEN", ["input", "id"])
    assert await workspace_name(db_engine, workspace["id"]) == workspace["name"]


@pytest.mark.parametrize(
    ("given", "code", "path"),
    [
        ({"settings": ["a", "list"]}, "INVALID_INPUT", ["input", "settings"]),
        ({"settings": "text"}, "INVALID_INPUT", ["input", "settings"]),
        ({"settings": {"big": "x" * 17_000}}, "INVALID_INPUT", ["input", "settings"]),
        ({"slug": "taken"}, "SLUG_TAKEN", ["input", "slug"]),
        ({"slug": "Bad Slug"}, "INVALID_INPUT", ["input", "slug"]),
        ({"name": " "}, "INVALID_INPUT", ["input", "name"]),
        (
            {"defaultLlmId": to_global_id("LLM", uuid.uuid4())},
            "NOT_FOUND",
            ["input", "defaultLlmId"],
        ),
    ],
)
async def test_update_rejects_bad_input(gql, make_user, make_workspace, given, code, path) -> None:
    """Given an owner and the slug "taken" in use, when an update is invalid (settings not a
    small JSON object, slug, name, model), then a UserError and the row is unchanged."""
    owner = await make_user()
    await gql.op("CreateWorkspace", owner.token, input={"name": "T", "slug": "taken"})
    workspace = await make_workspace(owner)
    changes = {"id": workspace["id"], **given}
    result = (await gql.op("UpdateWorkspace", owner.token, input=changes))["updateWorkspace"]
    user_error(result, code, path)
    after = await read_workspace(gql, owner.token, workspace["id"])
    assert {k: after[k] for k in ("name", "slug", "settings")} == {
        "name": workspace["name"],
        "slug": workspace["slug"],
        "settings": {},
    }


async def test_owner_deletes_workspace(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given a workspace with a member, an invitation and a project, when the owner deletes
    it, then it is gone with everything in it."""
    owner, workspace, (member,) = await team_with(make_user, make_workspace, add_member, "MEMBER")
    project = {"workspaceId": workspace["id"], "name": "P"}
    await gql.op("CreateProject", owner.token, input=project)
    await gql.op(
        "InviteMember", owner.token, input={"workspaceId": workspace["id"], "email": "x@y.io"}
    )
    result = (await gql.op("DeleteWorkspace", owner.token, id=workspace["id"]))["deleteWorkspace"]
    assert result == {"__typename": "Deleted", "id": workspace["id"]}
    assert await read_workspace(gql, owner.token, workspace["id"]) is None
    assert await read_workspace(gql, member.token, workspace["id"]) is None
    assert await workspace_name(db_engine, workspace["id"]) is None
    for table in ("workspace_members", "workspace_invitations", "projects"):
        assert await scalar(db_engine, f"SELECT count(*) FROM {table}") == 0


async def test_admin_cannot_delete(gql, make_user, make_workspace, add_member, db_engine) -> None:
    """Given an admin, when they delete the workspace, then FORBIDDEN and the row stays."""
    _, workspace, (admin,) = await team_with(make_user, make_workspace, add_member, "ADMIN")
    result = (await gql.op("DeleteWorkspace", admin.token, id=workspace["id"]))["deleteWorkspace"]
    user_error(result, "FORBIDDEN", ["id"])
    assert await workspace_name(db_engine, workspace["id"]) == workspace["name"]


# --- members and roles ----------------------------------------------------------------


async def test_members_are_listed_with_roles(gql, make_user, make_workspace, add_member) -> None:
    """Given members of every role, when a viewer lists members, then all are shown."""
    owner, workspace, (admin, member, viewer) = await team_with(
        make_user, make_workspace, add_member, "ADMIN", "MEMBER", "VIEWER"
    )
    listed = await read_workspace(gql, viewer.token, workspace["id"])
    assert listed["members"]["totalCount"] == 4
    assert member_roles(listed) == {
        owner.id: "OWNER",
        admin.id: "ADMIN",
        member.id: "MEMBER",
        viewer.id: "VIEWER",
    }


async def change_role(gql, actor, workspace: dict, user, role: str) -> dict:
    change = {"workspaceId": workspace["id"], "userId": user.id, "role": role}
    return (await gql.op("ChangeMemberRole", actor.token, input=change))["changeMemberRole"]


async def test_admin_demotes_member(gql, make_user, make_workspace, add_member) -> None:
    """Given an admin and a member, when the admin makes the member a viewer, then it is so."""
    _, workspace, (admin, member) = await team_with(
        make_user, make_workspace, add_member, "ADMIN", "MEMBER"
    )
    result = await change_role(gql, admin, workspace, member, "VIEWER")
    assert (result["__typename"], result["role"]) == ("WorkspaceMember", "VIEWER")
    assert result["user"]["id"] == member.id
    listed = await read_workspace(gql, admin.token, workspace["id"])
    assert member_roles(listed)[member.id] == "VIEWER"


async def test_only_owner_grants_owner(gql, make_user, make_workspace, add_member) -> None:
    """Given an admin and a member, when the admin grants owner, then FORBIDDEN; when the
    owner does, then the member becomes owner."""
    owner, workspace, (admin, member) = await team_with(
        make_user, make_workspace, add_member, "ADMIN", "MEMBER"
    )
    denied = await change_role(gql, admin, workspace, member, "OWNER")
    user_error(denied, "FORBIDDEN", ["input", "role"])
    promoted = await change_role(gql, owner, workspace, member, "OWNER")
    assert promoted["role"] == "OWNER"


async def test_member_cannot_change_roles(gql, make_user, make_workspace, add_member) -> None:
    """Given two members, when one changes the other's role, then FORBIDDEN."""
    _, workspace, (member, other) = await team_with(
        make_user, make_workspace, add_member, "MEMBER", "MEMBER"
    )
    result = await change_role(gql, member, workspace, other, "VIEWER")
    user_error(result, "FORBIDDEN", ["input", "workspaceId"])


async def test_last_owner_cannot_step_down(gql, make_user, make_workspace) -> None:
    """Given a sole owner, when they demote themselves, then LAST_OWNER."""
    owner = await make_user()
    workspace = await make_workspace(owner)
    result = await change_role(gql, owner, workspace, owner, "ADMIN")
    user_error(result, "LAST_OWNER", ["input", "userId"])


async def test_second_owner_lets_first_step_down(
    gql, make_user, make_workspace, add_member
) -> None:
    """Given two owners, when one demotes themselves, then it works."""
    owner, workspace, _ = await team_with(make_user, make_workspace, add_member, "OWNER")
    result = await change_role(gql, owner, workspace, owner, "ADMIN")
    assert result["role"] == "ADMIN"


async def remove(gql, actor, workspace: dict, user) -> dict:
    target = {"workspaceId": workspace["id"], "userId": user.id}
    return (await gql.op("RemoveMember", actor.token, input=target))["removeMember"]


async def test_admin_removes_member(gql, make_user, make_workspace, add_member) -> None:
    """Given an admin and a member, when the admin removes the member, then they are gone."""
    _, workspace, (admin, member) = await team_with(
        make_user, make_workspace, add_member, "ADMIN", "MEMBER"
    )
    assert (await remove(gql, admin, workspace, member))["__typename"] == "Deleted"
    assert member.id not in member_roles(await read_workspace(gql, admin.token, workspace["id"]))
    assert await read_workspace(gql, member.token, workspace["id"]) is None


async def test_admin_cannot_remove_owner(gql, make_user, make_workspace, add_member) -> None:
    """Given an admin, when they remove the owner, then FORBIDDEN."""
    owner, workspace, (admin,) = await team_with(make_user, make_workspace, add_member, "ADMIN")
    user_error(await remove(gql, admin, workspace, owner), "FORBIDDEN", ["input", "userId"])


async def test_member_leaves(gql, make_user, make_workspace, add_member) -> None:
    """Given a member, when they remove themselves, then the workspace is no longer theirs."""
    _, workspace, (member,) = await team_with(make_user, make_workspace, add_member, "VIEWER")
    assert (await remove(gql, member, workspace, member))["__typename"] == "Deleted"
    listed = (await gql.op("Workspaces", member.token))["workspaces"]
    assert listed["totalCount"] == 0


async def test_last_owner_cannot_leave(gql, make_user, make_workspace, db_engine) -> None:
    """Given a sole owner, when they leave, then LAST_OWNER and they stay owner."""
    owner = await make_user()
    workspace = await make_workspace(owner)
    user_error(await remove(gql, owner, workspace, owner), "LAST_OWNER", ["input", "userId"])
    sql = "SELECT role FROM workspace_members WHERE workspace_id = :id"
    rows = await fetch(db_engine, sql, id=decode_id(workspace["id"], "Workspace"))
    assert [row.role for row in rows] == ["owner"]


# --- pagination -----------------------------------------------------------------------


async def page(gql, token: str, **args) -> tuple[list[str], dict]:
    """Names on one page of ``workspaces`` and its pageInfo."""
    connection = (await gql.op("Workspaces", token, **args))["workspaces"]
    return [e["node"]["name"] for e in connection["edges"]], connection["pageInfo"]


def flags(info: dict) -> tuple[bool, bool]:
    return info["hasNextPage"], info["hasPreviousPage"]


@pytest.fixture
async def five(make_user, make_workspace):
    """A user with workspaces W1..W5, created in that order (listed newest first)."""
    user = await make_user()
    for n in range(1, 6):
        await make_workspace(user, f"W{n}")
    return user


async def test_pages_forward(gql, five) -> None:
    """Given five workspaces, when paging forward by two, then newest first without gaps."""
    names, info = await page(gql, five.token, first=2)
    assert (names, flags(info)) == (["W5", "W4"], (True, False))
    names, info = await page(gql, five.token, first=2, after=info["endCursor"])
    assert (names, flags(info)) == (["W3", "W2"], (True, True))
    names, info = await page(gql, five.token, first=2, after=info["endCursor"])
    assert (names, flags(info)) == (["W1"], (False, True))


async def test_pages_backward(gql, five) -> None:
    """Given five workspaces, when paging backward by two, then the same order from the end."""
    names, info = await page(gql, five.token, last=2)
    assert (names, flags(info)) == (["W2", "W1"], (False, True))
    names, info = await page(gql, five.token, last=2, before=info["startCursor"])
    assert (names, flags(info)) == (["W4", "W3"], (True, True))
    names, info = await page(gql, five.token, last=2, before=info["startCursor"])
    assert (names, flags(info)) == (["W5"], (True, False))


async def test_page_size_is_capped(gql, five) -> None:
    """Given the maximum page size of 100, when asking for 1000, then INVALID_INPUT."""
    body = await gql.query("query { workspaces(first: 1000) { totalCount } }", token=five.token)
    assert body["data"] is None
    assert error_codes(body) == ["INVALID_INPUT"]
    assert body["errors"][0]["path"] == ["workspaces"]
