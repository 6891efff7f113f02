"""Workspace secrets (provider API keys): admins set and delete them, nobody reads them back."""

from __future__ import annotations

import json
import uuid

import pytest

from synapse_gql.gql.relay import decode_id, to_global_id
from tests.helpers import fetch, scalar, user_error

WORKSPACE_KEY = "sk-ws-secret-9876543210ABCD"
USER_KEY = "sk-user-secret-0011223344EFGH"


async def set_secret(
    gql, actor, workspace: dict, key: str = "OPENAI_API_KEY", value: str = WORKSPACE_KEY
) -> dict:
    given = {"workspaceId": workspace["id"], "key": key, "value": value}
    token = None if actor is None else actor.token
    return (await gql.op("SetWorkspaceSecret", token, input=given))["setWorkspaceSecret"]


async def delete_secret(gql, actor, workspace: dict, key: str = "OPENAI_API_KEY") -> dict:
    given = {"workspaceId": workspace["id"], "key": key}
    token = None if actor is None else actor.token
    return (await gql.op("DeleteWorkspaceSecret", token, input=given))["deleteWorkspaceSecret"]


async def count(db_engine) -> int:
    return await scalar(db_engine, "SELECT count(*) FROM workspace_secrets")


async def listed(gql, actor, workspace: dict) -> list[dict] | None:
    data = await gql.op("WorkspaceSecrets", actor.token, workspaceId=workspace["id"])
    return None if data["workspace"] is None else data["workspace"]["secrets"]


@pytest.fixture
async def team(make_user, make_workspace, add_member):
    """A workspace with an owner, an admin, a member and a viewer; and an outsider who
    owns another workspace."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    roles = {}
    for role in ("ADMIN", "MEMBER", "VIEWER"):
        roles[role] = await make_user(role.lower())
        await add_member(owner, workspace, roles[role], role)
    outsider = await make_user("outsider")
    await make_workspace(outsider, "Elsewhere")
    return workspace, owner, roles["ADMIN"], roles["MEMBER"], roles["VIEWER"], outsider


async def test_admin_sets_a_secret(gql, team, db_engine) -> None:
    """Given an admin, when they set a secret, then it is masked, theirs, and encrypted."""
    workspace, _, admin, _, _, _ = team
    result = await set_secret(gql, admin, workspace)
    assert result["__typename"] == "WorkspaceSecret"
    assert (result["key"], result["maskedValue"]) == ("OPENAI_API_KEY", "••••ABCD")
    assert (result["createdBy"], result["workspace"]) == ({"id": admin.id}, {"id": workspace["id"]})
    [row] = await fetch(db_engine, "SELECT value_encrypted, last_four FROM workspace_secrets")
    assert row.last_four == "ABCD"
    assert WORKSPACE_KEY not in row.value_encrypted


async def test_owner_replaces_a_secret(gql, team, db_engine) -> None:
    """Given an admin's secret, when the owner sets the same key, then the row is replaced
    and the owner becomes its author."""
    workspace, owner, admin, _, _, _ = team
    first = await set_secret(gql, admin, workspace)
    second = await set_secret(gql, owner, workspace, value="sk-replacement-value-QRST")
    assert second["id"] == first["id"]
    assert (second["maskedValue"], second["createdBy"]) == ("••••QRST", {"id": owner.id})
    assert await count(db_engine) == 1


@pytest.mark.parametrize("role", ["MEMBER", "VIEWER"])
async def test_below_admin_cannot_set_or_delete(gql, team, db_engine, role) -> None:
    """Given a member or viewer, when they set or delete a secret, then FORBIDDEN and the
    stored secret is unchanged."""
    workspace, _, admin, member, viewer, _ = team
    actor = member if role == "MEMBER" else viewer
    await set_secret(gql, admin, workspace)
    before = await fetch(db_engine, "SELECT value_encrypted FROM workspace_secrets")
    forbidden = ("FORBIDDEN", ["input", "workspaceId"])
    user_error(await set_secret(gql, actor, workspace, value="sk-overwrite-attempt"), *forbidden)
    user_error(await set_secret(gql, actor, workspace, key="NEW_KEY"), *forbidden)
    user_error(await delete_secret(gql, actor, workspace), *forbidden)
    assert await fetch(db_engine, "SELECT value_encrypted FROM workspace_secrets") == before


async def test_outsider_gets_not_found(gql, team, db_engine) -> None:
    """Given another workspace's owner, when they set or delete a secret here, then
    NOT_FOUND (as for a missing workspace) and nothing changes."""
    workspace, _, admin, _, _, outsider = team
    await set_secret(gql, admin, workspace)
    missing = {"id": to_global_id("Workspace", uuid.uuid4())}
    for target in (workspace, missing):
        result = await set_secret(gql, outsider, target, value="sk-intruder-value")
        user_error(result, "NOT_FOUND", ["input", "workspaceId"])
        user_error(
            await delete_secret(gql, outsider, target), "NOT_FOUND", ["input", "workspaceId"]
        )
    assert await count(db_engine) == 1
    [secret] = await listed(gql, admin, workspace)
    assert secret["maskedValue"] == "••••ABCD"


async def test_anonymous_is_unauthenticated(gql, team, db_engine) -> None:
    """Given no token, when setting or deleting a secret, then UNAUTHENTICATED, no change."""
    workspace, _, admin, _, _, _ = team
    await set_secret(gql, admin, workspace)
    user_error(await set_secret(gql, None, workspace, key="OTHER"), "UNAUTHENTICATED")
    user_error(await delete_secret(gql, None, workspace), "UNAUTHENTICATED")
    assert await count(db_engine) == 1


@pytest.mark.parametrize(
    ("key", "value", "path"),
    [
        ("bad key", "value", ["input", "key"]),
        ("_LEADING", "value", ["input", "key"]),
        ("KEY", "", ["input", "value"]),
        ("KEY", "v" * 10_001, ["input", "value"]),
    ],
)
async def test_set_validates(gql, team, db_engine, key, value, path) -> None:
    """Given an admin, when the key or value is invalid, then INVALID_INPUT and no row."""
    workspace, _, admin, _, _, _ = team
    user_error(await set_secret(gql, admin, workspace, key, value), "INVALID_INPUT", path)
    assert await count(db_engine) == 0


async def test_malformed_workspace_id(gql, team, db_engine) -> None:
    """Given a project ID where a workspace ID belongs, then INVALID_ID at workspaceId."""
    _, _, admin, _, _, _ = team
    wrong = {"id": to_global_id("Project", uuid.uuid4())}
    result = await set_secret(gql, admin, wrong)
    user_error(result, "INVALID_ID", ["input", "workspaceId"])
    assert await count(db_engine) == 0


async def test_admin_deletes_a_secret(gql, team, db_engine) -> None:
    """Given a secret, when an admin deletes it, then it is gone; a missing key: NOT_FOUND."""
    workspace, owner, admin, _, _, _ = team
    created = await set_secret(gql, owner, workspace)
    assert await delete_secret(gql, admin, workspace) == {
        "__typename": "Deleted",
        "id": created["id"],
    }
    assert await count(db_engine) == 0
    user_error(await delete_secret(gql, admin, workspace), "NOT_FOUND", ["input", "key"])


async def test_secrets_list_is_for_admins(gql, team) -> None:
    """Given two secrets, when listed, then admins and owners see them by key; members and
    viewers get an empty list; outsiders do not see the workspace at all."""
    workspace, owner, admin, member, viewer, outsider = team
    await set_secret(gql, admin, workspace, "ZED_KEY")
    await set_secret(gql, admin, workspace, "ANTHROPIC_API_KEY")
    for reader in (owner, admin):
        assert [s["key"] for s in await listed(gql, reader, workspace)] == [
            "ANTHROPIC_API_KEY",
            "ZED_KEY",
        ]
    assert await listed(gql, member, workspace) == []
    assert await listed(gql, viewer, workspace) == []
    assert await listed(gql, outsider, workspace) is None


async def test_secret_node_is_for_admins(gql, team) -> None:
    """Given a secret, when fetched by ID, then admins get it; members and outsiders null."""
    workspace, _, admin, member, _, outsider = team
    created = await set_secret(gql, admin, workspace)
    query = "query ($id: ID!) { node(id: $id) { ... on WorkspaceSecret { key } } }"
    body = await gql.query(query, {"id": created["id"]}, admin.token)
    assert body["data"]["node"] == {"key": "OPENAI_API_KEY"}
    for reader in (member, outsider):
        body = await gql.query(query, {"id": created["id"]}, reader.token)
        assert body["data"]["node"] is None


EVERY_FIELD = """
query ($variable: ID!, $secret: ID!, $workspace: ID!) {
  variables { id key isSecret maskedValue value createdAt updatedAt }
  me { variables { id key isSecret maskedValue value createdAt updatedAt } }
  workspace(id: $workspace) {
    secrets { id key maskedValue createdAt updatedAt createdBy { id } workspace { id } }
  }
  nodes(ids: [$variable, $secret]) {
    id
    ... on UserVariable { key isSecret maskedValue value createdAt updatedAt }
    ... on WorkspaceSecret { key maskedValue createdAt updatedAt }
  }
}
"""


async def test_no_secret_is_ever_returned_in_clear(gql, team, db_engine) -> None:
    """Given a secret user variable and a workspace secret, when every field of both is
    read through every path, then neither clear value appears in the response, nor in any
    column of the database."""
    workspace, _, admin, _, _, _ = team
    variable = await gql.op(
        "SetVariable", admin.token, input={"key": "OPENAI_API_KEY", "value": USER_KEY}
    )
    secret = await set_secret(gql, admin, workspace)
    ids = {"variable": variable["setVariable"]["id"], "secret": secret["id"]}
    body = await gql.query(EVERY_FIELD, {**ids, "workspace": workspace["id"]}, admin.token)
    assert "errors" not in body, body
    assert len(body["data"]["nodes"]) == 2
    assert all(node is not None for node in body["data"]["nodes"])
    text = json.dumps(body, ensure_ascii=False) + json.dumps(variable) + json.dumps(secret)
    for clear in (USER_KEY, WORKSPACE_KEY):
        assert clear not in text
        assert clear[:-4] not in text
    for table in ("user_variables", "workspace_secrets"):
        rows = await fetch(db_engine, f"SELECT t::text AS line FROM {table} t")
        assert rows
        assert not any(USER_KEY in r.line or WORKSPACE_KEY in r.line for r in rows)


async def test_secret_written_by_id_not_by_name(gql, team, db_engine) -> None:
    """Given two workspaces with the same key, when one is set, then only its row changes."""
    workspace, owner, _, _, _, outsider = team
    await set_secret(gql, owner, workspace)
    data = await gql.op("CreateWorkspace", outsider.token, input={"name": "Second"})
    other = data["createWorkspace"]
    await set_secret(gql, outsider, other, value="sk-other-workspace-LMNO")
    rows = await fetch(db_engine, "SELECT workspace_id, last_four FROM workspace_secrets")
    assert {(str(r.workspace_id), r.last_four) for r in rows} == {
        (str(decode_id(workspace["id"], "Workspace")), "ABCD"),
        (str(decode_id(other["id"], "Workspace")), "LMNO"),
    }
