"""Workspace invitations: issue, list, replace, revoke, accept, expire."""

from __future__ import annotations

import pytest

from synapse_gql.gql.relay import decode_id
from tests.helpers import execute, fetch, user_error


async def invite(gql, actor, workspace: dict, email: str, role: str = "MEMBER") -> dict:
    given = {"workspaceId": workspace["id"], "email": email, "role": role}
    return (await gql.op("InviteMember", actor.token, input=given))["inviteMember"]


async def accept(gql, user, token: str) -> dict:
    return (await gql.op("AcceptInvitation", user.token, token=token))["acceptInvitation"]


async def revoke(gql, actor, invitation_id: str) -> dict:
    return (await gql.op("RevokeInvitation", actor.token, id=invitation_id))["revokeInvitation"]


async def listed(gql, token: str, workspace: dict) -> dict[str, dict]:
    """Invitation id -> invitation, as the ``invitations`` connection shows them."""
    data = await gql.op("Workspace", token, id=workspace["id"])
    return {e["node"]["id"]: e["node"] for e in data["workspace"]["invitations"]["edges"]}


async def is_member(gql, user, workspace: dict) -> bool:
    return (await gql.op("Workspace", user.token, id=workspace["id"]))["workspace"] is not None


@pytest.fixture
async def team(make_user, make_workspace, add_member):
    """An owner, an admin and their workspace."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    admin = await make_user("admin")
    await add_member(owner, workspace, admin, "ADMIN")
    return owner, admin, workspace


async def test_admin_invites(gql, team, db_engine) -> None:
    """Given an admin, when they invite an email, then the token is returned once and the
    pending invitation is listed without it."""
    _, admin, workspace = team
    issued = await invite(gql, admin, workspace, "New@Example.com", "VIEWER")
    assert issued["__typename"] == "CreatedInvitation"
    token, invitation = issued["token"], issued["invitation"]
    assert len(token) >= 32
    assert (invitation["email"], invitation["role"]) == ("new@example.com", "VIEWER")
    assert invitation["status"] == "PENDING"
    shown = (await listed(gql, admin.token, workspace))[invitation["id"]]
    assert (shown["status"], shown["inviter"]["id"]) == ("PENDING", admin.id)
    sql = "SELECT token_hash FROM workspace_invitations WHERE id = :id"
    [row] = await fetch(db_engine, sql, id=decode_id(invitation["id"], "WorkspaceInvitation"))
    assert token not in row.token_hash


@pytest.mark.parametrize(
    ("inviter", "role", "email", "code", "path"),
    [
        ("admin", "MEMBER", "not-an-email", "INVALID_INPUT", ["input", "email"]),
        ("admin", "OWNER", "boss@example.com", "FORBIDDEN", ["input", "role"]),
        ("member", "VIEWER", "friend@example.com", "FORBIDDEN", ["input", "workspaceId"]),
    ],
)
async def test_invite_is_checked(
    gql, team, make_user, add_member, inviter, role, email, code, path
) -> None:
    """Given an admin and a member, when an invitation is not allowed, then a UserError."""
    owner, admin, workspace = team
    member = await make_user("member")
    await add_member(owner, workspace, member, "MEMBER")
    actor = {"admin": admin, "member": member}[inviter]
    user_error(await invite(gql, actor, workspace, email, role), code, path)
    assert all(i["email"] != email for i in (await listed(gql, owner.token, workspace)).values())


async def test_owner_invites_owner(gql, team, make_user) -> None:
    """Given an owner, when they invite another owner who accepts, then there are two."""
    owner, _, workspace = team
    boss = await make_user("boss")
    issued = await invite(gql, owner, workspace, boss.email, "OWNER")
    assert (await accept(gql, boss, issued["token"]))["role"] == "OWNER"


async def test_member_cannot_be_invited(gql, team) -> None:
    """Given an admin who is a member, when invited again, then ALREADY_MEMBER."""
    owner, admin, workspace = team
    result = await invite(gql, owner, workspace, admin.email.upper())
    user_error(result, "ALREADY_MEMBER", ["input", "email"])


async def test_reinvite_revokes_previous(gql, team, make_user) -> None:
    """Given a pending invitation, when the same email is invited again, then the first is
    revoked and its token no longer works."""
    _, admin, workspace = team
    guest = await make_user("guest")
    first = await invite(gql, admin, workspace, guest.email)
    second = await invite(gql, admin, workspace, guest.email, "VIEWER")
    shown = await listed(gql, admin.token, workspace)
    assert shown[first["invitation"]["id"]]["status"] == "REVOKED"
    assert shown[second["invitation"]["id"]]["status"] == "PENDING"
    user_error(await accept(gql, guest, first["token"]), "INVITATION_NOT_PENDING", ["token"])
    assert (await accept(gql, guest, second["token"]))["role"] == "VIEWER"


async def test_revoke_twice(gql, team) -> None:
    """Given a pending invitation, when revoked, then REVOKED; when revoked again, then
    INVITATION_NOT_PENDING."""
    _, admin, workspace = team
    invitation = (await invite(gql, admin, workspace, "x@example.com"))["invitation"]
    revoked = await revoke(gql, admin, invitation["id"])
    assert revoked == {
        "__typename": "WorkspaceInvitation",
        "id": invitation["id"],
        "status": "REVOKED",
    }
    user_error(await revoke(gql, admin, invitation["id"]), "INVITATION_NOT_PENDING", ["id"])


async def test_member_cannot_revoke(gql, team, make_user, add_member) -> None:
    """Given a plain member, when they revoke an invitation, then FORBIDDEN and it stays."""
    owner, admin, workspace = team
    member = await make_user("member")
    await add_member(owner, workspace, member, "MEMBER")
    invitation = (await invite(gql, admin, workspace, "x@example.com"))["invitation"]
    user_error(await revoke(gql, member, invitation["id"]), "FORBIDDEN")
    assert (await listed(gql, admin.token, workspace))[invitation["id"]]["status"] == "PENDING"


async def test_accept_joins_with_role(gql, team, make_user) -> None:
    """Given an invitation as viewer, when the invitee accepts, then they are a viewer and
    see the workspace; the invitation is ACCEPTED."""
    _, admin, workspace = team
    guest = await make_user("guest")
    issued = await invite(gql, admin, workspace, guest.email, "VIEWER")
    joined = await accept(gql, guest, issued["token"])
    assert joined["__typename"] == "WorkspaceMember"
    assert (joined["role"], joined["workspace"]["id"]) == ("VIEWER", workspace["id"])
    edges = (await gql.op("Workspaces", guest.token))["workspaces"]["edges"]
    assert [(e["node"]["id"], e["node"]["viewerRole"]) for e in edges] == [
        (workspace["id"], "VIEWER")
    ]
    shown = await listed(gql, admin.token, workspace)
    assert shown[issued["invitation"]["id"]]["status"] == "ACCEPTED"
    user_error(await accept(gql, guest, issued["token"]), "INVITATION_NOT_PENDING")


async def test_accept_by_someone_else(gql, team, make_user) -> None:
    """Given an invitation for one email, when a user with another email accepts, then
    FORBIDDEN and they do not join."""
    _, admin, workspace = team
    guest, intruder = await make_user("guest"), await make_user("intruder")
    issued = await invite(gql, admin, workspace, guest.email)
    user_error(await accept(gql, intruder, issued["token"]), "FORBIDDEN", ["token"])
    assert not await is_member(gql, intruder, workspace)
    assert (await accept(gql, guest, issued["token"]))["role"] == "MEMBER"


async def test_accept_bogus_token(gql, make_user) -> None:
    """Given no invitation, when a made-up token is accepted, then NOT_FOUND."""
    user = await make_user()
    user_error(await accept(gql, user, "not-a-real-token"), "NOT_FOUND", ["token"])


async def test_expired_invitation(gql, team, make_user, db_engine) -> None:
    """Given an invitation whose expiry has passed, when accepted, then INVITATION_EXPIRED,
    no membership, and it is listed as EXPIRED."""
    _, admin, workspace = team
    guest = await make_user("guest")
    issued = await invite(gql, admin, workspace, guest.email)
    invitation_id = issued["invitation"]["id"]
    await execute(
        db_engine,
        "UPDATE workspace_invitations SET expires_at = now() - interval '1 hour' WHERE id = :id",
        id=decode_id(invitation_id, "WorkspaceInvitation"),
    )
    user_error(await accept(gql, guest, issued["token"]), "INVITATION_EXPIRED", ["token"])
    assert not await is_member(gql, guest, workspace)
    assert (await listed(gql, admin.token, workspace))[invitation_id]["status"] == "EXPIRED"


@pytest.mark.parametrize("role", ["VIEWER", "MEMBER"])
async def test_non_admins_see_no_invitations(gql, team, make_user, add_member, role) -> None:
    """Given a pending invitation, when a viewer or member lists invitations, then the
    connection is empty."""
    owner, admin, workspace = team
    await invite(gql, admin, workspace, "x@example.com")
    reader = await make_user(role.lower())
    await add_member(owner, workspace, reader, role)
    data = await gql.op("Workspace", reader.token, id=workspace["id"])
    assert data["workspace"]["invitations"] == {"totalCount": 0, "edges": []}
    emails = {i["email"] for i in (await listed(gql, admin.token, workspace)).values()}
    assert "x@example.com" in emails


async def test_status_filter_knows_expiry(gql, team, db_engine) -> None:
    """Given one expired and one pending invitation, when filtering by status, then each
    is found under the status it is shown with."""
    _, admin, workspace = team
    old = (await invite(gql, admin, workspace, "old@example.com"))["invitation"]
    new = (await invite(gql, admin, workspace, "new@example.com"))["invitation"]
    await execute(
        db_engine,
        "UPDATE workspace_invitations SET expires_at = now() - interval '1 hour' WHERE id = :id",
        id=decode_id(old["id"], "WorkspaceInvitation"),
    )
    query = """query ($id: ID!, $status: InvitationStatus) { workspace(id: $id) {
      invitations(status: $status) { edges { node { id status } } } } }"""
    for status, expected in (("EXPIRED", old), ("PENDING", new)):
        body = await gql.query(query, {"id": workspace["id"], "status": status}, admin.token)
        edges = body["data"]["workspace"]["invitations"]["edges"]
        assert [e["node"] for e in edges] == [{"id": expected["id"], "status": status}]


async def test_email_case_does_not_matter(gql, team) -> None:
    """Given a user registered as Grace@Example.com, when invited as GRACE@example.com,
    then she can accept."""
    _, admin, workspace = team
    given = {"email": "Grace@Example.com", "name": "Grace", "password": "correct horse battery"}
    token = (await gql.op("Register", input=given))["register"]["accessToken"]
    issued = await invite(gql, admin, workspace, "GRACE@example.com")
    joined = (await gql.op("AcceptInvitation", token, token=issued["token"]))["acceptInvitation"]
    assert joined["__typename"] == "WorkspaceMember"
