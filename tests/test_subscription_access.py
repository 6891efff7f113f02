"""Subscriptions under the same rights as queries: what each role receives of every event
type, and changes of rights (removal, demotion, token revocation, workspace deletion,
token expiry) ending subscriptions and sockets at once, in one process and across two."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from synapse_gql.realtime import conversation_channel, workspace_metrics_channel
from synapse_gql.realtime.channels import user_access_channel
from tests.access_helpers import Team, change_role, closed, make_team, pending, remove, start_raw
from tests.chat_helpers import Served, send, served, wait_for
from tests.generation_helpers import llm_global_id
from tests.helpers import db_id
from tests.llm_fakes import fake_openai, openai_error
from tests.test_chat_stream import usage_of, wait_ended
from tests.test_chat_stream_more import on_fake
from tests.ws_client import LEGACY_WS, TRANSPORT_WS, Operation, connect

CONVERSATION_WITH_FAILED_USAGE = """
subscription ($conversationId: ID!) {
  conversationEvents(conversationId: $conversationId) {
    __typename
    ... on MessageFailed { code usage { id cost } }
    ... on MessageCompleted { usage { id cost } }
    ... on SubscriptionRefused { code }
  }
}
"""


async def until_end(op: Operation, field: str) -> list[dict]:
    """Events through the first end of an answer (or a refusal)."""
    received = []
    while True:
        data = await op.next()
        assert data is not None, received
        received.append(data[field])
        if received[-1]["__typename"] in (
            "MessageCompleted",
            "MessageFailed",
            "SubscriptionRefused",
        ):
            return received


async def refused_only(op: Operation, field: str) -> dict:
    """The operation's single event, a refusal, followed by its completion."""
    [event] = [e async for e in op.events(field)]
    assert event["__typename"] == "SubscriptionRefused", event
    return event


async def subscribers(server: Served, channel: str, count: int) -> None:
    realtime = server.app.state.synapse.realtime
    await wait_for(lambda: _at_least(realtime, channel, count))


async def _at_least(realtime, channel: str, count: int) -> bool:
    return realtime.subscriber_count(channel) >= count


def typenames(events: list[dict]) -> list[str]:
    return [e["__typename"] for e in events]


async def test_every_event_type_by_role(
    settings, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given a workspace with a viewer, a member, a removed member and an outsider, when an
    answer is written, then viewer and member get every message event, the viewer with
    ``usage: null``, the member with the usage log; only the member gets workspaceUsage
    (the viewer FORBIDDEN); the removed member and the outsider are refused NOT_FOUND."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        channel = conversation_channel(db_id(team.conversation["id"]))
        conv_id, ws_id = team.conversation["id"], team.workspace["id"]
        async with (
            connect(server.ws_url, team.viewer.token) as viewer,
            connect(server.ws_url, team.member.token, LEGACY_WS) as member,
        ):
            viewer_conv = await viewer.start("ConversationEvents", conversationId=conv_id)
            member_conv = await member.start("ConversationEvents", conversationId=conv_id)
            viewer_usage = await viewer.start("LiveWorkspaceUsage", workspaceId=ws_id)
            member_usage = await member.start("LiveWorkspaceUsage", workspaceId=ws_id)
            await subscribers(server, channel, 2)
            await subscribers(server, workspace_metrics_channel(db_id(ws_id)), 1)
            turn = await send(server.gql, team.owner, team.conversation, "Who sees what?")
            answer = turn["assistantMessage"]
            seen_by_viewer = await until_end(viewer_conv, "conversationEvents")
            seen_by_member = await until_end(member_conv, "conversationEvents")
            usage_event = (await member_usage.next())["workspaceUsage"]  # type: ignore[index]
            viewer_refusal = await refused_only(viewer_usage, "workspaceUsage")
            await wait_ended(db_engine, answer)
            streams = {}
            for name, socket in (("viewer", viewer), ("member", member)):
                op = await socket.start("MessageStream", messageId=answer["id"])
                streams[name] = await op.until_end("messageStream")
        usage = await usage_of(db_engine, answer)
        refusals = await _outsider_refusals(server, team, answer["id"])

    for events in (seen_by_viewer, seen_by_member):
        assert typenames(events[:2]) == ["MessageAdded", "MessageAdded"], events
        assert set(typenames(events[2:-1])) == {"MessageDelta"}, events
        assert events[-1]["__typename"] == "MessageCompleted", events
    assert seen_by_viewer[-1]["usage"] is None
    assert db_id(seen_by_member[-1]["usage"]["id"]) == usage.id
    assert Decimal(seen_by_member[-1]["usage"]["cost"]) == usage.cost
    assert (usage_event["__typename"], db_id(usage_event["id"])) == ("UsageLog", usage.id)
    assert viewer_refusal["code"] == "FORBIDDEN"
    for name in ("viewer", "member"):
        deltas, end = streams[name][:-1], streams[name][-1]
        assert deltas
        assert set(typenames(deltas)) == {"MessageDelta"}
        assert end["__typename"] == "MessageCompleted", end
    assert streams["viewer"][-1]["usage"] is None
    assert db_id(streams["member"][-1]["usage"]["id"]) == usage.id
    assert refusals == {
        (who, kind): "NOT_FOUND"
        for who in ("removed", "outsider")
        for kind in ("answer", "conversation", "usage")
    }


async def _outsider_refusals(server: Served, team: Team, answer_id: str) -> dict:
    refusals = {}
    for who, account in (("removed", team.removed), ("outsider", team.outsider)):
        async with connect(server.ws_url, account.token) as socket:
            ops = {
                "answer": (
                    await socket.start("MessageStream", messageId=answer_id),
                    "messageStream",
                ),
                "conversation": (
                    await socket.start(
                        "ConversationEvents", conversationId=team.conversation["id"]
                    ),
                    "conversationEvents",
                ),
                "usage": (
                    await socket.start("LiveWorkspaceUsage", workspaceId=team.workspace["id"]),
                    "workspaceUsage",
                ),
            }
            for kind, (op, field) in ops.items():
                refusals[(who, kind)] = (await refused_only(op, field))["code"]
    return refusals


async def test_a_failed_answer_shows_its_usage_to_members_only(
    settings, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given an answer that fails (provider 401), then MessageFailed reaches viewer and
    member on both subscriptions; its usage is null for the viewer, the log for the member."""
    async with fake_openai() as host, served(settings, **on_fake(host.base_url)) as server:
        host.script = [openai_error(401, "Incorrect API key provided", code="invalid_api_key")]
        team = await make_team(server, make_user, make_workspace, add_member)
        gpt4o = await llm_global_id(db_engine, "gpt-4o")
        conv_id = team.conversation["id"]
        async with (
            connect(server.ws_url, team.viewer.token) as viewer,
            connect(server.ws_url, team.member.token) as member,
        ):
            convs = {
                "viewer": await start_raw(
                    viewer, CONVERSATION_WITH_FAILED_USAGE, conversationId=conv_id
                ),
                "member": await start_raw(
                    member, CONVERSATION_WITH_FAILED_USAGE, conversationId=conv_id
                ),
            }
            await subscribers(server, conversation_channel(db_id(conv_id)), 2)
            turn = await send(server.gql, team.owner, team.conversation, "Fail", model=gpt4o)
            answer = turn["assistantMessage"]
            ends = {k: (await until_end(op, "conversationEvents"))[-1] for k, op in convs.items()}
            await wait_ended(db_engine, answer)
            streams = {}
            for name, socket in (("viewer", viewer), ("member", member)):
                op = await socket.start("MessageStream", messageId=answer["id"])
                streams[name] = (await op.until_end("messageStream"))[-1]
        usage = await usage_of(db_engine, answer)

    for end in (*ends.values(), *streams.values()):
        assert end["__typename"] == "MessageFailed", end
    assert ends["viewer"]["usage"] is None
    assert streams["viewer"]["usage"] is None
    assert db_id(ends["member"]["usage"]["id"]) == usage.id
    assert db_id(streams["member"]["usage"]["id"]) == usage.id
    assert streams["member"]["usage"]["status"] == "ERROR"


async def _watching_member(server: Served, team: Team, socket) -> dict[str, Operation]:
    """The member's socket subscribed to the conversation and the workspace's usage."""
    ops = {
        "conversationEvents": await socket.start(
            "ConversationEvents", conversationId=team.conversation["id"]
        ),
        "workspaceUsage": await socket.start(
            "LiveWorkspaceUsage", workspaceId=team.workspace["id"]
        ),
    }
    await subscribers(server, conversation_channel(db_id(team.conversation["id"])), 1)
    await subscribers(server, workspace_metrics_channel(db_id(team.workspace["id"])), 1)
    return ops


async def _owner_answer(server: Served, team: Team, db_engine) -> None:
    """The owner sends a question; wait until its answer ended and its usage is written."""
    turn = await send(server.gql, team.owner, team.conversation, "Anyone listening?")
    await wait_ended(db_engine, turn["assistantMessage"])
    await usage_of(db_engine, turn["assistantMessage"])


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_removal_ends_every_subscription_at_once(
    settings, make_user, make_workspace, add_member, db_engine, protocol
) -> None:
    """Given a member subscribed to a conversation and to usage, when removed, then each
    subscription ends with SubscriptionRefused NOT_FOUND and nothing more arrives, though
    the owner goes on chatting."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        async with connect(server.ws_url, team.member.token, protocol) as socket:
            ops = await _watching_member(server, team, socket)
            await remove(server, team.owner, team.workspace, team.member)
            ends = {field: await refused_only(op, field) for field, op in ops.items()}
            await _owner_answer(server, team, db_engine)
            after = [item for op in ops.values() for item in pending(op)]
    assert {f: e["code"] for f, e in ends.items()} == {
        "conversationEvents": "NOT_FOUND",
        "workspaceUsage": "NOT_FOUND",
    }
    assert after == []


async def test_demotion_to_viewer_ends_usage_but_not_messages(
    settings, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given a member watching usage and a conversation, when demoted to viewer, then the
    usage subscription ends FORBIDDEN, and the conversation's next answer still arrives,
    with ``usage: null``; no usage event arrives after the change."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        async with connect(server.ws_url, team.member.token, LEGACY_WS) as socket:
            ops = await _watching_member(server, team, socket)
            await change_role(server, team.owner, team.workspace, team.member, "VIEWER")
            refusal = await refused_only(ops["workspaceUsage"], "workspaceUsage")
            await send(server.gql, team.owner, team.conversation, "Still there?")
            events = await until_end(ops["conversationEvents"], "conversationEvents")
            after_usage = pending(ops["workspaceUsage"])
    assert refusal["code"] == "FORBIDDEN"
    assert events[-1]["__typename"] == "MessageCompleted", events
    assert events[-1]["usage"] is None
    assert after_usage == []


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_revoking_the_api_token_closes_its_socket(
    settings, make_user, make_workspace, add_member, db_engine, protocol
) -> None:
    """Given a socket opened with an API token, when the token is revoked, then the socket
    closes with 4403 and none of the owner's later messages reach it."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        created = (await server.gql.op("CreateApiToken", team.member.token, input={"name": "bot"}))[
            "createApiToken"
        ]
        async with connect(server.ws_url, created["token"], protocol) as socket:
            ops = await _watching_member(server, team, socket)
            revoked = await server.gql.op(
                "RevokeApiToken", team.member.token, id=created["apiToken"]["id"]
            )
            assert revoked["revokeApiToken"]["revokedAt"] is not None
            code, reason = await closed(socket)
            await _owner_answer(server, team, db_engine)
            received = [item for op in ops.values() for item in pending(op)]
    assert code == 4403
    assert "revoked" in (reason or "")
    assert [item for item in received if item is not None] == []


async def test_deleting_the_workspace_ends_its_subscriptions(
    settings, make_user, make_workspace, add_member
) -> None:
    """Given a viewer watching a conversation, when the owner deletes the workspace, then
    the subscription ends NOT_FOUND at once."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        async with connect(server.ws_url, team.viewer.token) as socket:
            op = await socket.start("ConversationEvents", conversationId=team.conversation["id"])
            await subscribers(server, conversation_channel(db_id(team.conversation["id"])), 1)
            deleted = await server.gql.op(
                "DeleteWorkspace", team.owner.token, id=team.workspace["id"]
            )
            assert deleted["deleteWorkspace"]["__typename"] == "Deleted", deleted
            refusal = await refused_only(op, "conversationEvents")
    assert refusal["code"] == "NOT_FOUND"


async def test_an_expiring_login_token_closes_its_socket(
    settings, make_user, make_workspace, add_member
) -> None:
    """Given a socket authenticated with a login token that expires in two seconds, then
    the socket closes with 4401 when it expires, its subscription with it."""
    async with served(settings, mock_tokens_per_second=0) as server:
        team = await make_team(server, make_user, make_workspace, add_member)
        keyring = server.app.state.synapse.keyring
        token, _ = keyring.issue_access_token(db_id(team.viewer.id), timedelta(seconds=2))
        async with connect(server.ws_url, token) as socket:
            op = await socket.start("ConversationEvents", conversationId=team.conversation["id"])
            code, reason = await closed(socket)
            received = [item for item in pending(op) if item is not None]
    assert code == 4401
    assert "expired" in (reason or "")
    assert received == []


async def test_removal_on_one_process_ends_subscriptions_on_another(
    settings, make_user, make_workspace, add_member, db_engine, redis_url
) -> None:
    """Given two servers sharing Redis, a member subscribed on B, when the owner removes the
    member through A, then B's subscriptions end NOT_FOUND and nothing more arrives."""
    async with (
        served(settings, redis_url=redis_url, mock_tokens_per_second=0) as a,
        served(settings, redis_url=redis_url, mock_tokens_per_second=0) as b,
    ):
        team = await make_team(a, make_user, make_workspace, add_member)
        async with connect(b.ws_url, team.member.token) as socket:
            ops = await _watching_member(b, team, socket)
            assert (
                b.app.state.synapse.realtime.subscriber_count(
                    user_access_channel(db_id(team.member.id))
                )
                == 3
            )  # the socket and its two subscriptions
            await remove(a, team.owner, team.workspace, team.member)
            ends = {field: await refused_only(op, field) for field, op in ops.items()}
            await _owner_answer(a, team, db_engine)
            after = [item for op in ops.values() for item in pending(op)]
    assert {e["code"] for e in ends.values()} == {"NOT_FOUND"}
    assert after == []
