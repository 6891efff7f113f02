"""The live usage feed: every metered call reaches the workspace's subscribers."""

from __future__ import annotations

from decimal import Decimal

from pydantic import SecretStr

from synapse_gql.realtime import workspace_metrics_channel
from tests.chat_helpers import new_conversation, send, served, wait_for
from tests.generation_helpers import llm_global_id
from tests.helpers import db_id, fetch
from tests.llm_fakes import fake_openai, openai_error
from tests.ws_client import connect


async def test_each_answer_and_generate_call_is_announced_once_metered(
    settings, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given a member subscribed to the workspace's usage, when two answers complete and a
    one-shot generate call is made, then three UsageLog events arrive, equal to the rows;
    a viewer and an outsider are refused."""
    async with served(settings, mock_tokens_per_second=0) as server:
        owner = await make_user("owner")
        workspace = await make_workspace(owner)
        viewer, outsider = await make_user("viewer"), await make_user("outsider")
        await add_member(owner, workspace, viewer, "VIEWER")
        channel = workspace_metrics_channel(db_id(workspace["id"]))
        broadcaster = server.app.state.synapse.realtime
        async with connect(server.ws_url, owner.token) as socket:
            feed = await socket.start("LiveWorkspaceUsage", workspaceId=workspace["id"])

            async def subscribed() -> bool:
                return broadcaster.subscriber_count(channel) == 1

            await wait_for(subscribed)
            conversation = await new_conversation(server.gql, owner, workspace)
            for text in ("first question", "second question"):
                turn = await send(server.gql, owner, conversation, text)
                assert turn["__typename"] == "ChatTurn", turn
            received = [(await feed.next())["workspaceUsage"] for _ in range(2)]
            received.append(await _generate_and_receive(server, owner, workspace, feed))

        rows = await fetch(
            db_engine, "SELECT id, cost, output_tokens FROM usage_logs ORDER BY created_at"
        )
        assert [db_id(e["id"]) for e in received] == [row.id for row in rows]
        assert [(Decimal(e["cost"]), e["outputTokens"]) for e in received] == [
            (row.cost, row.output_tokens) for row in rows
        ]
        assert {e["status"] for e in received} == {"SUCCESS"}
        assert [e["message"] is not None for e in received] == [True, True, False]

        for refused, code in ((viewer, "FORBIDDEN"), (outsider, "NOT_FOUND")):
            async with connect(server.ws_url, refused.token) as socket:
                op = await socket.start("LiveWorkspaceUsage", workspaceId=workspace["id"])
                event = (await op.next())["workspaceUsage"]
                assert (event["__typename"], event["code"]) == ("SubscriptionRefused", code)
                assert await op.next() is None


async def _generate_and_receive(server, owner, workspace, feed) -> dict:
    llms = await server.gql.op("Llms", owner.token, provider="mock")
    [mock] = [edge["node"] for edge in llms["llms"]["edges"]]
    given = {"workspaceId": workspace["id"], "model": mock["id"], "prompt": "one shot"}
    result = (await server.gql.op("Generate", owner.token, input=given))["generate"]
    assert result["__typename"] == "Generation", result
    return (await feed.next())["workspaceUsage"]


async def test_each_attempt_of_a_retried_call_is_announced_in_order(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given a provider answering 429 once then succeeding, when a member generates, then
    the feed announces both usage rows (the refused attempt, then the answered one), in
    the order they were written."""
    async with fake_openai() as host:
        host.script = [openai_error(429, "Rate limit reached", code="rate_limit_exceeded")]
        on_fake = {
            "provider_base_urls": {"openai": host.base_url},
            "openai_api_key": SecretStr("sk-global-key-0000000003333"),
        }
        async with served(settings, **on_fake) as server:
            owner = await make_user("owner")
            workspace = await make_workspace(owner)
            channel = workspace_metrics_channel(db_id(workspace["id"]))
            broadcaster = server.app.state.synapse.realtime
            async with connect(server.ws_url, owner.token) as socket:
                feed = await socket.start("LiveWorkspaceUsage", workspaceId=workspace["id"])
                await wait_for(lambda: _subscribed(broadcaster, channel))
                gpt4o = await llm_global_id(db_engine, "gpt-4o")
                given = {"workspaceId": workspace["id"], "model": gpt4o, "prompt": "retry"}
                result = (await server.gql.op("Generate", owner.token, input=given))["generate"]
                assert result["__typename"] == "Generation", result
                received = [(await feed.next())["workspaceUsage"] for _ in range(2)]

    rows = await fetch(db_engine, "SELECT id, attempt FROM usage_logs ORDER BY created_at")
    assert [row.attempt for row in rows] == [1, 2]
    assert [db_id(e["id"]) for e in received] == [row.id for row in rows]
    assert [e["status"] for e in received] == ["ERROR", "SUCCESS"]


async def _subscribed(broadcaster, channel) -> bool:
    return broadcaster.subscriber_count(channel) == 1
