"""Tenant isolation: Bob, owner of his own workspace, can neither read nor change anything
of Alice's workspace, and a foreign ID answers exactly like one that does not exist."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from synapse_gql.gql.relay import decode_id, to_global_id
from tests.conftest import Account
from tests.helpers import error_codes, fetch, user_error

FOREIGN_TYPES = ("Workspace", "WorkspaceMember", "WorkspaceInvitation", "Project")

# Tables holding a workspace's data, with the column naming the workspace.
SCOPED_TABLES = {
    "workspaces": "id",
    "workspace_members": "workspace_id",
    "workspace_invitations": "workspace_id",
    "projects": "workspace_id",
}


@dataclass
class Tenants:
    alice: Account
    bob: Account
    targets: dict[str, str]  # GraphQL type -> ID of Alice's object; "User" is her member
    slug: str  # Alice's workspace slug
    bob_ids: dict[str, str]  # GraphQL type -> ID of Bob's own object


async def create_project(gql, owner: Account, workspace_id: str, name: str) -> dict:
    given = {"workspaceId": workspace_id, "name": name}
    return (await gql.op("CreateProject", owner.token, input=given))["createProject"]


@pytest.fixture
async def tenants(gql, make_user, make_workspace, add_member) -> Tenants:
    """Alice's workspace with a member, a pending invitation and a project; Bob's own
    workspace with a project."""
    alice, bob, member = await make_user("alice"), await make_user("bob"), await make_user("m")
    alpha = await make_workspace(alice, "Alpha")
    membership = await add_member(alice, alpha, member, "MEMBER")
    invite = {"workspaceId": alpha["id"], "email": "guest@example.com", "role": "ADMIN"}
    issued = (await gql.op("InviteMember", alice.token, input=invite))["inviteMember"]
    project = await create_project(gql, alice, alpha["id"], "Secret")
    bravo = await make_workspace(bob, "Bravo")
    bob_project = await create_project(gql, bob, bravo["id"], "Mine")
    targets = {
        "Workspace": alpha["id"],
        "WorkspaceMember": membership["id"],
        "WorkspaceInvitation": issued["invitation"]["id"],
        "Project": project["id"],
        "User": member.id,
    }
    bob_ids = {"Workspace": bravo["id"], "Project": bob_project["id"], "User": bob.id}
    return Tenants(alice, bob, targets, alpha["slug"], bob_ids)


async def snapshot(db_engine, workspace_id: str) -> dict[str, list[tuple]]:
    """Every row of the workspace in every scoped table, to prove nothing changed."""
    db_id = decode_id(workspace_id, "Workspace")
    rows = {}
    for table, column in SCOPED_TABLES.items():
        sql = f"SELECT * FROM {table} WHERE {column} = :id ORDER BY id"
        rows[table] = [tuple(row) for row in await fetch(db_engine, sql, id=db_id)]
    return rows


def missing(targets: dict[str, str]) -> dict[str, str]:
    """Well-formed IDs of the same types that exist nowhere."""
    return {name: to_global_id(name, uuid.uuid4()) for name in targets}


# --- reads ----------------------------------------------------------------------------


NODE_QUERY = "query ($id: ID!) { node(id: $id) { __typename id } }"


async def node(gql, token: str | None, global_id: str) -> Any:
    body = await gql.query(NODE_QUERY, {"id": global_id}, token)
    assert "errors" not in body, body
    return body["data"]["node"]


@pytest.mark.parametrize("type_name", FOREIGN_TYPES)
async def test_node_hides_foreign_objects(gql, tenants, type_name) -> None:
    """Given an object of Alice's, when Bob or an anonymous caller refetches it by ID, then
    null, while Alice gets it."""
    global_id = tenants.targets[type_name]
    assert await node(gql, tenants.alice.token, global_id) == {
        "__typename": type_name,
        "id": global_id,
    }
    assert await node(gql, tenants.bob.token, global_id) is None
    assert await node(gql, None, global_id) is None


@pytest.mark.parametrize("type_name", FOREIGN_TYPES)
async def test_nodes_hide_foreign_objects(gql, tenants, type_name) -> None:
    """Given Bob's workspace and an object of Alice's, when Bob asks for both, then he gets
    his own and null for hers."""
    own = tenants.bob_ids["Workspace"]
    data = await gql.op("Nodes", tenants.bob.token, ids=[tenants.targets[type_name], own])
    assert data["nodes"] == [None, {"__typename": "Workspace", "id": own}]


async def test_member_does_not_see_invitations_by_id(gql, tenants, make_user, add_member) -> None:
    """Given a plain member of Alice's workspace, when they refetch an invitation, then null
    (invitations are for admins)."""
    member = await make_user("member")
    await add_member(tenants.alice, {"id": tenants.targets["Workspace"]}, member, "MEMBER")
    assert await node(gql, member.token, tenants.targets["WorkspaceInvitation"]) is None
    assert await node(gql, member.token, tenants.targets["Project"]) is not None


@pytest.mark.parametrize("by", ["id", "slug"])
async def test_workspace_field_hides_foreign(gql, tenants, by) -> None:
    """Given Alice's workspace, when Bob asks for it by ID or slug, then null."""
    key = {"id": tenants.targets["Workspace"], "slug": tenants.slug}[by]
    assert (await gql.op("Workspace", tenants.alice.token, **{by: key}))["workspace"] is not None
    assert (await gql.op("Workspace", tenants.bob.token, **{by: key}))["workspace"] is None
    assert (await gql.op("Workspace", None, **{by: key}))["workspace"] is None


async def test_workspaces_lists_only_own(gql, tenants) -> None:
    """Given two tenants, when Bob lists his workspaces, then only his own appears."""
    data = await gql.op("Workspaces", tenants.bob.token)
    ids = [edge["node"]["id"] for edge in data["workspaces"]["edges"]]
    assert ids == [tenants.bob_ids["Workspace"]]


# --- writes ---------------------------------------------------------------------------

Variables = Callable[[dict[str, str], Tenants], dict[str, Any]]

# Mutation -> variables aimed at Alice's objects (``t`` maps a type to the ID to use).
ATTACKS: dict[str, tuple[str, Variables]] = {
    "update workspace": (
        "UpdateWorkspace",
        lambda t, _: {"input": {"id": t["Workspace"], "name": "Pwned", "settings": {"x": 1}}},
    ),
    "delete workspace": ("DeleteWorkspace", lambda t, _: {"id": t["Workspace"]}),
    "change member role": (
        "ChangeMemberRole",
        lambda t, _: {
            "input": {"workspaceId": t["Workspace"], "userId": t["User"], "role": "VIEWER"}
        },
    ),
    "make self owner": (
        "ChangeMemberRole",
        lambda t, s: {
            "input": {"workspaceId": t["Workspace"], "userId": s.bob.id, "role": "OWNER"}
        },
    ),
    "remove member": (
        "RemoveMember",
        lambda t, _: {"input": {"workspaceId": t["Workspace"], "userId": t["User"]}},
    ),
    "remove owner": (
        "RemoveMember",
        lambda t, s: {"input": {"workspaceId": t["Workspace"], "userId": s.alice.id}},
    ),
    "invite member": (
        "InviteMember",
        lambda t, s: {"input": {"workspaceId": t["Workspace"], "email": s.bob.email}},
    ),
    "revoke invitation": ("RevokeInvitation", lambda t, _: {"id": t["WorkspaceInvitation"]}),
    "create project": (
        "CreateProject",
        lambda t, _: {"input": {"workspaceId": t["Workspace"], "name": "Planted"}},
    ),
    "update project": ("UpdateProject", lambda t, _: {"input": {"id": t["Project"], "name": "X"}}),
    "archive project": ("ArchiveProject", lambda t, _: {"id": t["Project"]}),
    "restore project": ("RestoreProject", lambda t, _: {"id": t["Project"]}),
}


async def attempt(gql, token: str | None, operation: str, variables: dict[str, Any]) -> dict:
    """The union result of one mutation."""
    data = await gql.op(operation, token, **variables)
    return data[operation[0].lower() + operation[1:]]


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_foreign_mutation_is_not_found(gql, tenants, db_engine, attack) -> None:
    """Given Alice's objects, when Bob mutates them, then NOT_FOUND and no row changes."""
    operation, variables = ATTACKS[attack]
    before = await snapshot(db_engine, tenants.targets["Workspace"])
    result = await attempt(gql, tenants.bob.token, operation, variables(tenants.targets, tenants))
    user_error(result, "NOT_FOUND")
    assert await snapshot(db_engine, tenants.targets["Workspace"]) == before


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_foreign_id_looks_missing(gql, tenants, attack) -> None:
    """Given Alice's objects, when Bob mutates them, then the error is exactly the one an ID
    that exists nowhere gets: nothing tells him the object is there."""
    operation, variables = ATTACKS[attack]
    token = tenants.bob.token
    foreign = await attempt(gql, token, operation, variables(tenants.targets, tenants))
    nowhere = await attempt(gql, token, operation, variables(missing(tenants.targets), tenants))
    assert foreign == nowhere


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_anonymous_mutation_is_unauthenticated(gql, tenants, db_engine, attack) -> None:
    """Given no bearer token, when any mutation runs, then UNAUTHENTICATED and no change."""
    operation, variables = ATTACKS[attack]
    before = await snapshot(db_engine, tenants.targets["Workspace"])
    result = await attempt(gql, None, operation, variables(tenants.targets, tenants))
    user_error(result, "UNAUTHENTICATED")
    assert await snapshot(db_engine, tenants.targets["Workspace"]) == before


@pytest.mark.parametrize(
    ("operation", "variables"),
    [
        ("CreateWorkspace", {"input": {"name": "Anon"}}),
        ("AcceptInvitation", {"token": "whatever"}),
    ],
)
async def test_anonymous_cannot_create_or_join(gql, db_engine, operation, variables) -> None:
    """Given no bearer token, when creating a workspace or accepting, then UNAUTHENTICATED."""
    user_error(await attempt(gql, None, operation, variables), "UNAUTHENTICATED")
    assert (await fetch(db_engine, "SELECT id FROM workspaces")) == []


async def test_anonymous_cannot_list_workspaces(gql, tenants) -> None:
    """Given no bearer token, when listing workspaces, then an UNAUTHENTICATED error."""
    body = await gql.query("query { workspaces { totalCount } }")
    assert error_codes(body) == ["UNAUTHENTICATED"]


# --- malformed and mistyped IDs -------------------------------------------------------

# Mutation -> variables with Bob's own ``Project`` where a ``Workspace`` is expected (or
# the reverse), and the path of the bad ID.
WRONG_TYPE = {
    "update workspace": (
        "UpdateWorkspace",
        lambda b: {"input": {"id": b["Project"]}},
        ["input", "id"],
    ),
    "delete workspace": ("DeleteWorkspace", lambda b: {"id": b["Project"]}, ["id"]),
    "create project": (
        "CreateProject",
        lambda b: {"input": {"workspaceId": b["Project"], "name": "P"}},
        ["input", "workspaceId"],
    ),
    "remove member": (
        "RemoveMember",
        lambda b: {"input": {"workspaceId": b["Workspace"], "userId": b["Workspace"]}},
        ["input", "userId"],
    ),
    "archive project": ("ArchiveProject", lambda b: {"id": b["Workspace"]}, ["id"]),
    "revoke invitation": ("RevokeInvitation", lambda b: {"id": b["Project"]}, ["id"]),
}


@pytest.mark.parametrize("case", list(WRONG_TYPE))
async def test_wrong_type_id_is_invalid(gql, tenants, db_engine, case) -> None:
    """Given Bob's own IDs, when one of the wrong type is passed, then INVALID_ID on it."""
    operation, variables, path = WRONG_TYPE[case]
    before = await snapshot(db_engine, tenants.bob_ids["Workspace"])
    result = await attempt(gql, tenants.bob.token, operation, variables(tenants.bob_ids))
    user_error(result, "INVALID_ID", path)
    assert await snapshot(db_engine, tenants.bob_ids["Workspace"]) == before


@pytest.mark.parametrize(
    "bad_id",
    ["not-an-id", "", "V29ya3NwYWNlOm5vdC1hLXV1aWQ=", "Workspace:" + str(uuid.UUID(int=42))],
)
async def test_malformed_id_is_invalid(gql, tenants, bad_id) -> None:
    """Given a string that is no global ID, when used in a mutation or `node`, then
    INVALID_ID (a UserError, or a GraphQL error where there is no union)."""
    result = await attempt(gql, tenants.bob.token, "DeleteWorkspace", {"id": bad_id})
    user_error(result, "INVALID_ID", ["id"])
    body = await gql.query(NODE_QUERY, {"id": bad_id}, tenants.bob.token)
    assert error_codes(body) == ["INVALID_ID"]


async def test_node_of_unknown_type_is_null(gql, tenants) -> None:
    """Given a well-formed ID of a type that has no objects, when refetched, then null."""
    assert await node(gql, tenants.bob.token, to_global_id("Nope", uuid.uuid4())) is None
