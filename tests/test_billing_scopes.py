"""Billing events under a conversation, a message, a model and the viewer; usage under a
message. The same visibility rule holds everywhere: admins and owners of the workspace."""

from __future__ import annotations

from synapse_gql.gql.relay import to_global_id
from tests.ledger import dev_llm, insert_billing, insert_conversation, insert_message, insert_usage


async def _charged_message(engine, workspace: dict, user) -> dict:
    """A conversation with one message, one usage row and its charge; plus a stray charge."""
    conversation = await insert_conversation(engine, workspace["id"])
    message = await insert_message(engine, conversation)
    usage = await insert_usage(engine, workspace["id"], user.id, 1, message_id=message)
    charge = await insert_billing(
        engine, workspace["id"], user.id, 1, usage_log_id=usage, message_id=message
    )
    await insert_billing(engine, workspace["id"], None, 2)  # no message, no call
    return {
        "conversationId": to_global_id("Conversation", conversation),
        "messageId": to_global_id("Message", message),
        "llmId": to_global_id("LLM", await dev_llm(engine)),
        "charge": to_global_id("BillingEvent", charge),
        "usage": to_global_id("UsageLog", usage),
    }


def _ids(connection: dict) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def test_owner_sees_the_charge_under_every_scope(
    gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    rows = await _charged_message(db_engine, workspace, owner)
    variables = {k: rows[k] for k in ("conversationId", "messageId", "llmId")}

    data = await gql.op("BillingScopes", owner.token, **variables)

    assert _ids(data["conversation"]["billingEvents"]) == [rows["charge"]]
    assert _ids(data["message"]["billingEvents"]) == [rows["charge"]]
    assert _ids(data["message"]["usageLogs"]) == [rows["usage"]]
    assert _ids(data["llm"]["billingEvents"]) == [rows["charge"]]
    assert _ids(data["me"]["billingEvents"]) == [rows["charge"]]


async def test_member_sees_usage_but_no_billing(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    owner, member = await make_user("owner"), await make_user("member")
    workspace = await make_workspace(owner)
    await add_member(owner, workspace, member, "MEMBER")
    rows = await _charged_message(db_engine, workspace, member)
    variables = {k: rows[k] for k in ("conversationId", "messageId", "llmId")}

    data = await gql.op("BillingScopes", member.token, **variables)

    assert _ids(data["message"]["usageLogs"]) == [rows["usage"]]
    for scope in ("conversation", "message", "llm"):
        assert data[scope]["billingEvents"]["totalCount"] == 0
    assert data["me"]["billingEvents"]["totalCount"] == 0


async def test_other_workspace_sees_nothing_of_the_model(
    gql, make_user, make_workspace, db_engine
) -> None:
    owner, outsider = await make_user("owner"), await make_user("outsider")
    workspace = await make_workspace(owner)
    await make_workspace(outsider, "Theirs")
    rows = await _charged_message(db_engine, workspace, owner)
    variables = {k: rows[k] for k in ("conversationId", "messageId", "llmId")}

    data = await gql.op("BillingScopes", outsider.token, **variables)

    assert data["conversation"] is None
    assert data["message"] is None
    assert data["llm"]["billingEvents"]["totalCount"] == 0
    assert data["me"]["billingEvents"]["totalCount"] == 0
