"""Membership changes that race: every call gets a definite answer, no workspace loses
its last owner, and no unique-key race reaches clients as an internal error."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from synapse_gql.security.keys import digest
from tests.gql_client import GraphQLClient, operation_documents
from tests.helpers import db_id, execute, fetch

ROUNDS = 20
SETTLED = {"WorkspaceMember", "Deleted", "UserError"}


async def call(
    gql: GraphQLClient, name: str, token: str | None, /, **variables: Any
) -> dict[str, Any]:
    """The single root field of operation ``name``; a GraphQL error (internal or other)
    fails the test with the response body."""
    response = await gql.raw(operation_documents()[name], variables, token, operation=name)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    (payload,) = body["data"].values()
    return payload


async def owners_of(db_engine, workspace: dict) -> list[Any]:
    sql = "SELECT user_id FROM workspace_members WHERE workspace_id = :w AND role = 'owner'"
    return await fetch(db_engine, sql, w=db_id(workspace["id"]))


def change(workspace: dict, target, role: str) -> dict[str, Any]:
    return {"input": {"workspaceId": workspace["id"], "userId": target.id, "role": role}}


def remove(workspace: dict, target) -> dict[str, Any]:
    return {"input": {"workspaceId": workspace["id"], "userId": target.id}}


@pytest.mark.parametrize("action", ["demote", "remove", "demote_and_remove", "leave_both"])
async def test_owners_acting_on_each_other_at_once_keep_an_owner(
    gql, make_user, make_workspace, add_member, db_engine, action: str
) -> None:
    """Given a workspace with two owners, when they demote or remove each other (or both
    leave) at the same moment, many times over, then each call returns a result or a typed
    error (never an internal error) and the workspace always keeps at least one owner."""
    a, b = await make_user("a"), await make_user("b")
    outcomes: dict[str, int] = {}
    for _ in range(ROUNDS):
        workspace = await make_workspace(a)
        await add_member(a, workspace, b, "OWNER")
        calls = {
            "demote": [
                ("ChangeMemberRole", a, change(workspace, b, "ADMIN")),
                ("ChangeMemberRole", b, change(workspace, a, "ADMIN")),
            ],
            "remove": [
                ("RemoveMember", a, remove(workspace, b)),
                ("RemoveMember", b, remove(workspace, a)),
            ],
            "demote_and_remove": [
                ("ChangeMemberRole", a, change(workspace, b, "VIEWER")),
                ("RemoveMember", b, remove(workspace, a)),
            ],
            "leave_both": [
                ("RemoveMember", a, remove(workspace, a)),
                ("RemoveMember", b, remove(workspace, b)),
            ],
        }[action]
        results = await asyncio.gather(*(call(gql, n, who.token, **v) for n, who, v in calls))
        for result in results:
            assert result["__typename"] in SETTLED, result
            if result["__typename"] == "UserError":
                assert result["code"] in {"LAST_OWNER", "FORBIDDEN", "NOT_FOUND"}, result
            outcomes[result["__typename"]] = outcomes.get(result["__typename"], 0) + 1
        assert len(await owners_of(db_engine, workspace)) >= 1
    # Exactly one of each pair can win: the other is refused with a typed error.
    assert outcomes.get("UserError") == ROUNDS, outcomes


async def test_two_pending_invitations_accepted_at_once_make_one_member(
    gql, make_user, make_workspace, db_engine
) -> None:
    """Given two pending invitations for one email (as left by an older server that let two
    invitations through), when the invitee accepts both at the same moment, then both calls
    answer with the membership and the workspace has exactly one membership for them."""
    owner, guest = await make_user("owner"), await make_user("guest")
    for n in range(ROUNDS // 2):
        workspace = await make_workspace(owner)
        invite = {"workspaceId": workspace["id"], "email": guest.email, "role": "MEMBER"}
        issued = await call(gql, "InviteMember", owner.token, input=invite)
        second = f"second-invitation-token-{n}"
        await execute(
            db_engine,
            "INSERT INTO workspace_invitations (id, workspace_id, email, role, token_hash,"
            " status, expires_at, inviter_id) SELECT :id, workspace_id, email, role, :hash,"
            " status, expires_at, inviter_id FROM workspace_invitations WHERE id = :first",
            id=uuid.uuid4(),
            hash=digest(second),
            first=db_id(issued["invitation"]["id"]),
        )
        results = await asyncio.gather(
            *(
                call(gql, "AcceptInvitation", guest.token, token=t)
                for t in (issued["token"], second)
            )
        )
        assert [r["__typename"] for r in results] == ["WorkspaceMember"] * 2, results
        assert results[0]["id"] == results[1]["id"]
        sql = "SELECT id FROM workspace_members WHERE workspace_id = :w AND user_id = :u"
        rows = await fetch(db_engine, sql, w=db_id(workspace["id"]), u=db_id(guest.id))
        assert len(rows) == 1


async def test_inviting_one_email_twice_at_once_leaves_one_pending_invitation(
    gql, make_user, make_workspace, db_engine
) -> None:
    """Given a workspace, when an admin invites the same email twice at the same moment,
    then both calls answer and exactly one invitation stays pending."""
    owner = await make_user("owner")
    for n in range(ROUNDS // 2):
        workspace = await make_workspace(owner)
        invite = {"input": {"workspaceId": workspace["id"], "email": f"x{n}@example.com"}}
        invite["input"]["role"] = "MEMBER"
        results = await asyncio.gather(
            *(call(gql, "InviteMember", owner.token, **invite) for _ in range(2))
        )
        assert [r["__typename"] for r in results] == ["CreatedInvitation"] * 2, results
        sql = "SELECT id FROM workspace_invitations WHERE workspace_id = :w AND status = 'pending'"
        assert len(await fetch(db_engine, sql, w=db_id(workspace["id"]))) == 1


async def test_registering_one_email_twice_at_once_gives_email_taken(gql) -> None:
    """Given no account, when the same email registers twice at the same moment, then one
    account is created and the other call gets EMAIL_TAKEN (not an internal error)."""
    for n in range(ROUNDS // 2):
        body = {"email": f"twice{n}@example.com", "name": "Twice", "password": "long enough pw"}
        results = await asyncio.gather(*(call(gql, "Register", None, input=body) for _ in range(2)))
        kinds = sorted(r["__typename"] for r in results)
        assert kinds == ["AuthPayload", "UserError"], results
        assert [r["code"] for r in results if r["__typename"] == "UserError"] == ["EMAIL_TAKEN"]
