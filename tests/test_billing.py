"""Billing events: the workspace ledger, readable by admins and owners only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from synapse_gql.gql.relay import to_global_id
from tests.helpers import error_codes
from tests.ledger import insert_billing, insert_conversation, insert_message, insert_usage, iso


@pytest.fixture
async def team(make_user, make_workspace, add_member):
    """Workspace A with an owner, an admin, a member and a viewer; an outsider owning B."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner, "A")
    people = {"owner": owner}
    for role in ("ADMIN", "MEMBER", "VIEWER"):
        people[role.lower()] = await make_user(role.lower())
        await add_member(owner, workspace, people[role.lower()], role)
    people["outsider"] = await make_user("outsider")
    other = await make_workspace(people["outsider"], "B")
    return workspace, other, people


async def billing(gql, actor, workspace: dict, **variables) -> dict | None:
    data = await gql.op("WorkspaceBilling", actor.token, workspaceId=workspace["id"], **variables)
    return None if data["workspace"] is None else data["workspace"]["billingEvents"]


def ids(page: dict) -> list[str]:
    return [edge["node"]["id"] for edge in page["edges"]]


def gid(row_id) -> str:
    return to_global_id("BillingEvent", row_id)


async def test_admin_reads_every_field(gql, team, db_engine) -> None:
    """Given a charge for a call of a message, when an admin lists the ledger, then every
    field is returned with its related user, usage log and message."""
    workspace, _, people = team
    member = people["member"]
    message = await insert_message(db_engine, await insert_conversation(db_engine, workspace["id"]))
    usage = await insert_usage(db_engine, workspace["id"], member.id, 1, message_id=message)
    row = await insert_billing(
        db_engine,
        workspace["id"],
        member.id,
        1,
        usage_log_id=usage,
        message_id=message,
        amount="-1.25",
        type="credit",
        status="invoiced",
        description="Goodwill credit",
    )
    page = await billing(gql, people["admin"], workspace)
    [node] = [edge["node"] for edge in page["edges"]]
    assert node["id"] == gid(row)
    assert (node["type"], node["status"], node["currency"]) == ("CREDIT", "INVOICED", "USD")
    assert Decimal(node["amount"]) == Decimal("-1.25")
    assert node["description"] == "Goodwill credit"
    assert node["createdAt"].startswith("2025-03-01T13:00:00")
    assert (node["workspace"], node["user"]) == ({"id": workspace["id"]}, {"id": member.id})
    assert node["usageLog"] == {"id": to_global_id("UsageLog", usage)}
    assert node["message"] == {"id": to_global_id("Message", message)}


async def test_only_admins_and_owners_see_the_ledger(gql, team, db_engine) -> None:
    """Given two events, when each role lists them, then the owner and admin see both;
    member and viewer an empty connection; the outsider not even the workspace."""
    workspace, _, people = team
    rows = [await insert_billing(db_engine, workspace["id"], None, h) for h in (0, 1)]
    for reader in ("owner", "admin"):
        page = await billing(gql, people[reader], workspace)
        assert (ids(page), page["totalCount"]) == ([gid(rows[1]), gid(rows[0])], 2)
    for reader in ("member", "viewer"):
        page = await billing(gql, people[reader], workspace)
        assert (page["edges"], page["totalCount"]) == ([], 0)
    assert await billing(gql, people["outsider"], workspace) is None


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [(1, 3, [2, 1]), (2, None, [3, 2]), (None, 2, [1, 0]), (None, None, [3, 2, 1, 0])],
)
async def test_time_range(gql, team, db_engine, since, until, expected) -> None:
    """Given an event each hour, when filtered, then since is inclusive, until exclusive."""
    workspace, _, people = team
    rows = [await insert_billing(db_engine, workspace["id"], None, h) for h in range(4)]
    bounds = {
        "since": None if since is None else iso(since),
        "until": None if until is None else iso(until),
    }
    page = await billing(gql, people["owner"], workspace, **bounds)
    assert (ids(page), page["totalCount"]) == ([gid(rows[h]) for h in expected], len(expected))


async def test_until_must_follow_since(gql, team) -> None:
    """Given until before since, when listing the ledger, then INVALID_INPUT on `until`."""
    workspace, _, people = team
    query = """query ($id: ID!, $since: DateTime, $until: DateTime) {
      workspace(id: $id) { billingEvents(since: $since, until: $until) { totalCount } } }"""
    variables = {"id": workspace["id"], "since": iso(2), "until": iso(1)}
    body = await gql.query(query, variables, people["owner"].token)
    assert error_codes(body) == ["INVALID_INPUT"]
    assert body["errors"][0]["extensions"]["path"] == ["until"]


async def test_pagination(gql, team, db_engine) -> None:
    """Given five events, when paging by two, then pages are contiguous, newest first."""
    workspace, _, people = team
    rows = [await insert_billing(db_engine, workspace["id"], None, h) for h in range(5)]
    newest = [gid(r) for r in reversed(rows)]
    seen, after = [], None
    for _ in range(3):
        page = await billing(gql, people["admin"], workspace, first=2, after=after)
        seen.append(ids(page))
        after = page["pageInfo"]["endCursor"]
    assert seen == [newest[:2], newest[2:4], newest[4:]]
    assert page["pageInfo"]["hasNextPage"] is False


async def test_billing_node_is_for_admins(gql, team, db_engine) -> None:
    """Given an event of A, when fetched by ID, then owner and admin get it; member,
    viewer, outsider and anonymous callers get null."""
    workspace, _, people = team
    row = gid(await insert_billing(db_engine, workspace["id"], people["member"].id, 1))
    for reader in ("owner", "admin"):
        node = (await gql.op("BillingNode", people[reader].token, id=row))["node"]
        assert (node["__typename"], node["id"]) == ("BillingEvent", row)
    for reader in ("member", "viewer", "outsider"):
        assert (await gql.op("BillingNode", people[reader].token, id=row))["node"] is None
    assert (await gql.op("BillingNode", id=row))["node"] is None


async def test_other_workspace_ledgers_stay_apart(gql, team, db_engine) -> None:
    """Given events in A and B, when B's owner reads B's ledger, then only B's show, and
    A's event is null by ID."""
    workspace, other, people = team
    in_a = await insert_billing(db_engine, workspace["id"], people["outsider"].id, 1)
    in_b = await insert_billing(db_engine, other["id"], people["outsider"].id, 2)
    outsider = people["outsider"]
    assert ids(await billing(gql, outsider, other)) == [gid(in_b)]
    assert (await gql.op("BillingNode", outsider.token, id=gid(in_a)))["node"] is None
    assert ids(await billing(gql, people["owner"], workspace)) == [gid(in_a)]
