"""Alerts: budget thresholds visible once per period, acknowledging and resolving them
(rights and states), the live feed of a workspace's alerts, and provider health episodes
(error rate, latency) raised once and resolved when the rule clears."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from synapse_gql.alerts import evaluate_after_call, repository
from synapse_gql.gql.relay import to_global_id
from synapse_gql.models import AlertKind, AlertStatus, UsageLog
from synapse_gql.realtime.channels import workspace_alerts_channel
from tests.alert_helpers import act, alert_nodes, alert_rows, alerts, insert_alert
from tests.budget_helpers import MAX_TOKENS, price_the_mock, set_budget
from tests.chat_helpers import served, wait_for
from tests.generation_helpers import app_client, generate, llm_global_id
from tests.helpers import db_id, user_error
from tests.llm_fakes import FakeHost, Reply, openai_error
from tests.sqlcount import counting
from tests.ws_client import connect

GLOBAL_KEY = SecretStr("sk-global-key-0000000004444")


async def _team(make_user, make_workspace, add_member):
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    roles = {}
    for role in ("ADMIN", "MEMBER", "VIEWER"):
        roles[role] = await make_user(role.lower())
        await add_member(owner, workspace, roles[role], role)
    return owner, workspace, roles


async def test_budget_thresholds_fire_once_per_period_and_members_see_them(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given a soft 0.4 USD budget with thresholds 50 and 100 and calls of 0.2 USD, when
    three calls are made, then two alerts exist (50% warning, 100% critical), newest first,
    with their budget; the third call raises nothing; viewers see none, outsiders nothing."""
    owner, workspace, roles = await _team(make_user, make_workspace, add_member)
    outsider = await make_user("outsider")
    mock = await price_the_mock(gql, db_engine, owner)
    budget = await set_budget(
        gql, owner, workspace, limit="0.4", hardStop=False, thresholds=[50, 100]
    )

    for _ in range(3):
        done = await generate(gql, owner.token, workspace, mock, maxTokens=MAX_TOKENS)
        assert done["__typename"] == "Generation", done

    seen = await alert_nodes(gql, roles["MEMBER"], workspace)
    assert [(a["kind"], a["thresholdPercent"], a["severity"]) for a in seen] == [
        ("SPEND_LIMIT", 100, "CRITICAL"),
        ("SPEND_THRESHOLD", 50, "WARNING"),
    ]
    assert {a["status"] for a in seen} == {"OPEN"}
    assert {a["budget"]["id"] for a in seen} == {budget["id"]}
    assert [Decimal(a["details"]["spend"]) for a in seen] == [Decimal("0.4"), Decimal("0.2")]
    assert len(await alert_rows(db_engine)) == 2
    viewer_page = await alerts(gql, roles["VIEWER"], workspace)
    assert viewer_page is not None
    assert (viewer_page["totalCount"], viewer_page["edges"]) == (0, [])
    assert await alerts(gql, outsider, workspace) is None
    node = await gql.op("Node", outsider.token, id=seen[0]["id"])
    assert node["node"] is None


async def test_admins_acknowledge_then_resolve_and_wrong_states_are_refused(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given an open alert, when a member or an outsider acts on it, then FORBIDDEN or
    NOT_FOUND and it stays open; an admin acknowledges it (once), the owner resolves it
    (once), and neither works on a resolved alert; the status filter follows."""
    owner, workspace, roles = await _team(make_user, make_workspace, add_member)
    outsider = await make_user("outsider")
    alert_id = await insert_alert(db_engine, workspace)
    path = ["input", "alertId"]

    user_error(await act(gql, roles["MEMBER"], "AcknowledgeAlert", alert_id), "FORBIDDEN", path)
    user_error(await act(gql, roles["VIEWER"], "ResolveAlert", alert_id), "FORBIDDEN", path)
    user_error(await act(gql, outsider, "AcknowledgeAlert", alert_id), "NOT_FOUND", path)
    assert [row.status for row in await alert_rows(db_engine)] == ["open"]

    acked = await act(gql, roles["ADMIN"], "AcknowledgeAlert", alert_id)
    assert (acked["status"], acked["acknowledgedBy"]["id"]) == ("ACKNOWLEDGED", roles["ADMIN"].id)
    assert acked["acknowledgedAt"] is not None
    assert acked["resolvedAt"] is None
    again = await act(gql, owner, "AcknowledgeAlert", alert_id)
    assert "acknowledged" in user_error(again, "INVALID_STATE", path)
    listed = await alert_nodes(gql, roles["MEMBER"], workspace, status="ACKNOWLEDGED")
    assert [a["id"] for a in listed] == [alert_id]
    assert await alert_nodes(gql, roles["MEMBER"], workspace, status="OPEN") == []

    resolved = await act(gql, owner, "ResolveAlert", alert_id)
    assert (resolved["status"], resolved["acknowledgedBy"]["id"]) == ("RESOLVED", roles["ADMIN"].id)
    assert resolved["resolvedAt"] is not None
    user_error(await act(gql, owner, "ResolveAlert", alert_id), "INVALID_STATE", path)
    user_error(await act(gql, owner, "AcknowledgeAlert", alert_id), "INVALID_STATE", path)
    [row] = await alert_rows(db_engine)
    assert (row.status, row.acknowledged_by) == ("resolved", db_id(roles["ADMIN"].id))

    user_error(await act(gql, owner, "ResolveAlert", "not-an-id"), "INVALID_ID", path)
    missing = to_global_id("Alert", uuid.uuid4())
    user_error(await act(gql, owner, "ResolveAlert", missing), "NOT_FOUND", path)


async def test_members_hear_alerts_live_viewers_are_refused_and_removal_ends_it(
    settings, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given a member subscribed to the workspace's alerts, when a threshold is crossed and
    an admin acknowledges the alert, then both arrive, in order, as committed; a viewer and
    an outsider are refused; removing the member ends the subscription with a refusal."""
    async with served(settings, mock_tokens_per_second=0) as server:
        owner, workspace, roles = await _team(make_user, make_workspace, add_member)
        outsider = await make_user("outsider")
        mock = await price_the_mock(server.gql, db_engine, owner)
        await set_budget(server.gql, owner, workspace, limit="1", hardStop=False, thresholds=[10])
        channel = workspace_alerts_channel(db_id(workspace["id"]))
        broadcaster = server.app.state.synapse.realtime
        async with connect(server.ws_url, roles["MEMBER"].token) as socket:
            feed = await socket.start("LiveWorkspaceAlerts", workspaceId=workspace["id"])

            async def subscribed() -> bool:
                return broadcaster.subscriber_count(channel) == 1

            await wait_for(subscribed)
            done = await generate(server.gql, owner.token, workspace, mock, maxTokens=MAX_TOKENS)
            assert done["__typename"] == "Generation", done
            raised = (await feed.next())["workspaceAlerts"]
            assert (raised["kind"], raised["status"], raised["thresholdPercent"]) == (
                "SPEND_THRESHOLD",
                "OPEN",
                10,
            )
            acked = await act(server.gql, roles["ADMIN"], "AcknowledgeAlert", raised["id"])
            assert acked["__typename"] == "Alert", acked
            heard = (await feed.next())["workspaceAlerts"]
            assert (heard["id"], heard["status"]) == (raised["id"], "ACKNOWLEDGED")

            member = {"workspaceId": workspace["id"], "userId": roles["MEMBER"].id}
            removed = await server.gql.op("RemoveMember", owner.token, input=member)
            assert removed["removeMember"]["__typename"] == "Deleted", removed
            ended = (await feed.next())["workspaceAlerts"]
            assert (ended["__typename"], ended["code"]) == ("SubscriptionRefused", "NOT_FOUND")
            assert await feed.next() is None

        for refused, code in ((roles["VIEWER"], "FORBIDDEN"), (outsider, "NOT_FOUND")):
            async with connect(server.ws_url, refused.token) as socket:
                op = await socket.start("LiveWorkspaceAlerts", workspaceId=workspace["id"])
                event = (await op.next())["workspaceAlerts"]
                assert (event["__typename"], event["code"]) == ("SubscriptionRefused", code)
                assert await op.next() is None


def _on_fake(host: FakeHost, **changes: object) -> dict[str, object]:
    """OpenAI on the fake with a server-wide key, one attempt per call, and ``changes``."""
    return {
        "provider_base_urls": {"openai": host.base_url},
        "openai_api_key": GLOBAL_KEY,
        "llm_retry_attempts": 1,
        **changes,
    }


async def _owner_on_gpt4o(make_user, make_workspace, db_engine) -> tuple:
    """An owner, their workspace and the global ID of gpt-4o."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    return owner, workspace, await llm_global_id(db_engine, "gpt-4o")


def _refused():
    """OpenAI refusing the key (401)."""
    return openai_error(401, "Incorrect API key provided", code="invalid_api_key")


async def _calls(client, owner, workspace, model: str, count: int) -> list[str]:
    results = [await generate(client, owner.token, workspace, model) for _ in range(count)]
    return [r["__typename"] for r in results]


async def test_a_provider_error_rate_episode_is_raised_once_and_resolved_by_successes(
    settings, make_user, make_workspace, openai_host, db_engine
) -> None:
    """Given rules of 3 calls and 50% errors judged after every call, when OpenAI refuses 4
    calls (401), then one open PROVIDER_ERROR_RATE alert for openai after the third, none
    more after the fourth; when calls succeed, it stays open at 4 of 8 (50%) and is
    resolved at 4 of 9; failures again open a second episode."""
    owner, workspace, gpt4o = await _owner_on_gpt4o(make_user, make_workspace, db_engine)
    refused = _refused()
    rules = {"alert_min_calls": 3, "alert_error_rate_percent": 50, "alert_check_seconds": 0}
    async with app_client(settings, **_on_fake(openai_host, **rules)) as client:
        openai_host.default = refused
        assert await _calls(client, owner, workspace, gpt4o, 2) == ["UserError"] * 2
        assert await alert_rows(db_engine) == []
        await _calls(client, owner, workspace, gpt4o, 2)
        [episode] = await alert_rows(db_engine)
        assert (episode.kind, episode.status, episode.provider) == (
            "provider_error_rate",
            "open",
            "openai",
        )
        assert (episode.severity, episode.details["calls"], episode.details["errors"]) == (
            "critical",
            3,
            3,
        )

        openai_host.default = Reply()
        assert await _calls(client, owner, workspace, gpt4o, 4) == ["Generation"] * 4
        assert [row.status for row in await alert_rows(db_engine)] == ["open"]
        await _calls(client, owner, workspace, gpt4o, 1)
        [row] = await alert_rows(db_engine)
        assert (row.status, row.details["resolvedWith"]["errorRatePercent"]) == ("resolved", 44.4)
        assert row.resolved_at is not None

        openai_host.default = refused
        await _calls(client, owner, workspace, gpt4o, 2)
        statuses = [row.status for row in await alert_rows(db_engine, "provider_error_rate")]
        assert statuses == ["resolved", "open"]
        seen = await alert_nodes(client, owner, workspace, status="OPEN")
        assert [(a["kind"], a["provider"]) for a in seen] == [("PROVIDER_ERROR_RATE", "openai")]


async def test_a_latency_episode_is_raised_once_and_resolved_when_calls_are_fast_enough(
    settings, make_user, make_workspace, openai_host, db_engine
) -> None:
    """Given a p95 threshold of 5 ms over 2 calls and a host taking 20 ms to its first token,
    when three calls succeed, then one PROVIDER_LATENCY alert (warning); under a threshold
    of 100 s the next call resolves it."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    gpt4o = await llm_global_id(db_engine, "gpt-4o")
    openai_host.default = Reply(first_token_delay=0.02)
    slow_rules = {"alert_min_calls": 2, "alert_latency_p95_ms": 5, "alert_check_seconds": 0}
    async with app_client(settings, **_on_fake(openai_host, **slow_rules)) as client:
        await _calls(client, owner, workspace, gpt4o, 1)
        assert await alert_rows(db_engine) == []
        assert await _calls(client, owner, workspace, gpt4o, 2) == ["Generation"] * 2
        [episode] = await alert_rows(db_engine)
        assert (episode.kind, episode.status, episode.severity) == (
            "provider_latency",
            "open",
            "warning",
        )
        assert episode.details["p95LatencyMs"] >= 20

    relaxed = {"alert_min_calls": 2, "alert_latency_p95_ms": 100_000, "alert_check_seconds": 0}
    async with app_client(settings, **_on_fake(openai_host, **relaxed)) as client:
        await _calls(client, owner, workspace, gpt4o, 1)
    [row] = await alert_rows(db_engine)
    assert (row.kind, row.status) == ("provider_latency", "resolved")


async def test_healthy_calls_are_judged_on_the_pace_and_failures_at_once(
    settings, make_user, make_workspace, openai_host, db_engine
) -> None:
    """Given rules of 3 calls and 50% errors judged at most once a minute for healthy
    traffic, when one call succeeds and two are refused, then the episode opens at the
    second refusal (failures are judged at once while the rule is quiet); when six calls
    then succeed (2 of 9 failed, 22%), it stays open: healthy calls wait for the pace."""
    owner, workspace, gpt4o = await _owner_on_gpt4o(make_user, make_workspace, db_engine)
    refused = _refused()
    rules = {"alert_min_calls": 3, "alert_error_rate_percent": 50, "alert_check_seconds": 60}
    async with app_client(settings, **_on_fake(openai_host, **rules)) as client:
        assert await _calls(client, owner, workspace, gpt4o, 1) == ["Generation"]
        openai_host.default = refused
        await _calls(client, owner, workspace, gpt4o, 1)
        assert await alert_rows(db_engine) == []
        await _calls(client, owner, workspace, gpt4o, 1)
        [episode] = await alert_rows(db_engine)
        assert (episode.status, episode.details["calls"], episode.details["errors"]) == (
            "open",
            3,
            2,
        )
        openai_host.default = Reply()
        assert await _calls(client, owner, workspace, gpt4o, 6) == ["Generation"] * 6
        assert [row.status for row in await alert_rows(db_engine)] == ["open"]


async def test_health_costs_one_statement_per_call_and_one_episode_survives_a_race(
    settings, make_user, make_workspace, db_engine
) -> None:
    """Given a metered call, when its provider's health is judged with nothing to change,
    then one statement runs; when two transactions open the same episode at once, then the
    partial unique index lets one through and the other gets None."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await llm_global_id(db_engine, "synapse-dev")
    async with app_client(settings) as client:
        assert await _calls(client, owner, workspace, mock, 1) == ["Generation"]
    sessions = async_sessionmaker(db_engine, expire_on_commit=False)
    async with sessions() as session:
        usage = (await session.scalars(select(UsageLog))).one()
        with counting(db_engine) as log:
            assert await evaluate_after_call(session, usage) == []
    assert log.count == 1

    def episode() -> dict:
        return {
            "id": uuid.uuid4(),
            "workspace_id": usage.workspace_id,
            "kind": AlertKind.PROVIDER_ERROR_RATE,
            "status": AlertStatus.OPEN,
            "provider": "mock",
            "message": "failing",
            "details": {},
        }

    async with sessions() as first, sessions() as second:
        async with first.begin():
            won = await repository.open_episode(first, episode())
            racing = asyncio.create_task(_open_in(second, episode()))
        lost = await racing
    assert (won is not None, lost) == (True, None)
    assert [row.status for row in await alert_rows(db_engine)] == ["open"]


async def _open_in(session, row: dict):
    async with session.begin():
        return await repository.open_episode(session, row)
