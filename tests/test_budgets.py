"""Setting, reading and deleting budgets, and which calls each scope stops: permissions,
typed input errors, one budget per (workspace, scope, target), project, member and
API-token budgets, spend, reservations and forecast, and the sweep releasing the
reservation of an answer whose process died."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal

from synapse_gql.app import create_app
from tests.budget_helpers import (
    CALL_COST,
    MAX_TOKENS,
    budgets,
    open_reservations,
    price_the_mock,
    set_budget,
    streaming,
    usage_row,
)
from tests.chat_helpers import new_conversation, send, wait_for
from tests.generation_helpers import generate
from tests.helpers import db_id, execute, fetch, scalar, user_error
from tests.test_chat_recovery import has_status, insert_streaming_answer


async def _team(make_user, make_workspace, add_member):
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    roles = {}
    for role in ("ADMIN", "MEMBER", "VIEWER"):
        roles[role] = await make_user(role.lower())
        await add_member(owner, workspace, roles[role], role)
    return owner, workspace, roles


async def _done(db_engine) -> bool:
    return await streaming(db_engine) == 0


async def test_admins_set_and_update_members_read_others_are_refused(
    gql, make_user, make_workspace, add_member
) -> None:
    """Given a team, when the admin sets a budget, then members read it, viewers see none,
    a member cannot set or delete it, an outsider gets NOT_FOUND; setting it again updates
    the same budget (thresholds deduplicated and sorted)."""
    owner, workspace, roles = await _team(make_user, make_workspace, add_member)
    outsider = await make_user("outsider")

    made = await set_budget(gql, roles["ADMIN"], workspace, limit="10", thresholds=[100, 50, 50])
    assert made["__typename"] == "Budget", made
    assert (made["scope"], made["targetId"], made["hardStop"]) == ("WORKSPACE", None, True)
    assert (Decimal(made["limit"]), made["thresholds"]) == (Decimal(10), [50, 100])
    assert Decimal(made["remaining"]) == Decimal(10)

    again = await set_budget(gql, owner, workspace, limit="20", hardStop=False)
    assert (again["id"], Decimal(again["limit"]), again["hardStop"]) == (made["id"], 20, False)
    assert [b["id"] for b in await budgets(gql, roles["MEMBER"], workspace)] == [made["id"]]
    assert await budgets(gql, roles["VIEWER"], workspace) == []

    refused = await set_budget(gql, roles["MEMBER"], workspace, limit="1")
    user_error(refused, "FORBIDDEN", ["input", "workspaceId"])
    hidden = await set_budget(gql, outsider, workspace, limit="1")
    user_error(hidden, "NOT_FOUND", ["input", "workspaceId"])
    gone = await gql.op("DeleteBudget", roles["MEMBER"].token, input={"budgetId": made["id"]})
    user_error(gone["deleteBudget"], "FORBIDDEN", ["input", "budgetId"])
    [kept] = await budgets(gql, owner, workspace)
    assert Decimal(kept["limit"]) == Decimal(20)

    deleted = await gql.op("DeleteBudget", roles["ADMIN"].token, input={"budgetId": made["id"]})
    assert deleted["deleteBudget"] == {"__typename": "Deleted", "id": made["id"]}
    assert await budgets(gql, owner, workspace) == []


async def test_bad_input_gets_typed_errors_naming_the_field(gql, make_user, make_workspace) -> None:
    """Given an owner, when a budget is set with a bad limit, threshold or target, then
    INVALID_INPUT / NOT_FOUND at that field, and no budget is saved."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    elsewhere = await make_workspace(owner, "Other")
    project = (
        await gql.op(
            "CreateProject", owner.token, input={"workspaceId": elsewhere["id"], "name": "P"}
        )
    )["createProject"]

    cases = [
        ({"limit": "-1"}, "INVALID_INPUT", ["input", "limit"]),
        ({"limit": "0.00000000001"}, "INVALID_INPUT", ["input", "limit"]),
        ({"limit": "1", "thresholds": [50, 0]}, "INVALID_INPUT", ["input", "thresholds", "1"]),
        ({"limit": "1", "thresholds": [1001]}, "INVALID_INPUT", ["input", "thresholds", "0"]),
        ({"limit": "1", "scope": "PROJECT"}, "INVALID_INPUT", ["input", "targetId"]),
        (
            {"limit": "1", "scope": "PROJECT", "targetId": project["id"]},
            "NOT_FOUND",
            ["input", "targetId"],
        ),
        (
            {"limit": "1", "scope": "MEMBER", "targetId": project["id"]},
            "INVALID_ID",
            ["input", "targetId"],
        ),
    ]
    for given, code, path in cases:
        user_error(await set_budget(gql, owner, workspace, **given), code, path)
    assert await budgets(gql, owner, workspace) == []


async def test_project_and_member_budgets_stop_only_their_calls(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given a zero hard-stop budget on a project and one on a member, then calls in the
    project and calls by that member are refused, and the others are answered."""
    owner, workspace, roles = await _team(make_user, make_workspace, add_member)
    mock = await price_the_mock(gql, db_engine, await make_user("root"))
    project = (
        await gql.op(
            "CreateProject", owner.token, input={"workspaceId": workspace["id"], "name": "P"}
        )
    )["createProject"]
    inside = await new_conversation(gql, owner, workspace, projectId=project["id"])
    outside = await new_conversation(gql, owner, workspace)
    for scope, target in (("PROJECT", project["id"]), ("MEMBER", roles["MEMBER"].id)):
        made = await set_budget(gql, owner, workspace, scope=scope, targetId=target, limit="0")
        assert (made["scope"], made["targetId"]) == (scope, target), made

    def ask(actor, conversation):
        return send(gql, actor, conversation, "Hi", model=mock, maxTokens=MAX_TOKENS)

    user_error(await ask(owner, inside), "BUDGET_EXCEEDED", ["input", "conversationId"])
    user_error(await ask(roles["MEMBER"], outside), "BUDGET_EXCEEDED", ["input", "conversationId"])
    assert (await ask(owner, outside))["__typename"] == "ChatTurn"
    assert (await ask(roles["ADMIN"], outside))["__typename"] == "ChatTurn"
    await wait_for(lambda: _done(db_engine))
    assert await open_reservations(db_engine) == 0


async def test_api_token_budget_stops_calls_made_with_that_token(
    gql, make_user, make_workspace, db_engine
) -> None:
    """Given a zero budget on one of the owner's API tokens, then generating with that token
    is refused, while the same owner with a login token is answered."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("root"))
    issued = (await gql.op("CreateApiToken", owner.token, input={"name": "ci"}))["createApiToken"]
    token_id = issued["apiToken"]["id"]
    made = await set_budget(gql, owner, workspace, scope="API_TOKEN", targetId=token_id, limit="0")
    assert made["targetId"] == token_id, made

    refused = await generate(gql, issued["token"], workspace, mock, maxTokens=MAX_TOKENS)
    answered = await generate(gql, owner.token, workspace, mock, maxTokens=MAX_TOKENS)

    user_error(refused, "BUDGET_EXCEEDED", ["input", "workspaceId"])
    assert answered["__typename"] == "Generation", answered


async def test_generate_reserves_and_settles_and_the_budget_reads_its_spend(
    gql, make_user, make_workspace, db_engine
) -> None:
    """Given room for one generation, then the first is answered and the second refused;
    the budget reads the call's spend, nothing reserved, the rest remaining, and a forecast
    of at least the spend."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("root"))
    limit = CALL_COST + Decimal("0.05")
    made = await set_budget(gql, owner, workspace, limit=str(limit))
    assert Decimal(made["forecast"]) == Decimal(0)

    first = await generate(gql, owner.token, workspace, mock, maxTokens=MAX_TOKENS)
    second = await generate(gql, owner.token, workspace, mock, maxTokens=MAX_TOKENS)

    assert (first["__typename"], Decimal(first["cost"])) == ("Generation", CALL_COST), first
    user_error(second, "BUDGET_EXCEEDED", ["input", "workspaceId"])
    [read] = await budgets(gql, owner, workspace)
    assert (Decimal(read["spent"]), Decimal(read["reserved"])) == (CALL_COST, Decimal(0))
    assert Decimal(read["remaining"]) == Decimal("0.05")
    assert Decimal(read["forecast"]) > CALL_COST
    assert read["periodStart"] < read["periodEnd"]
    assert await open_reservations(db_engine) == 0


async def test_the_sweep_releases_the_reservation_of_a_dead_generation(
    settings, gql, make_user, make_workspace, db_engine
) -> None:
    """Given an answer left streaming by a dead process with 5 USD reserved on a budget,
    when a server starts and sweeps it, then its reservation is gone and released, and
    its metered cost is charged."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    await price_the_mock(gql, db_engine, await make_user("root"))
    conversation = await new_conversation(gql, owner, workspace)
    made = await set_budget(gql, owner, workspace, limit="10")
    stale = await insert_streaming_answer(db_engine, conversation, db_id(owner.id), "partial")
    reservation = uuid.uuid4()
    await execute(
        db_engine,
        "INSERT INTO budget_reservations (id, budget_ids, period_start, amount)"
        " SELECT :r, ARRAY[budget_id], period_start, 5 FROM budget_usage WHERE budget_id = :b",
        r=reservation,
        b=db_id(made["id"]),
    )
    await execute(
        db_engine, "UPDATE budget_usage SET reserved = 5 WHERE budget_id = :b", b=db_id(made["id"])
    )
    await execute(
        db_engine,
        "UPDATE messages SET generation = generation || CAST(:g AS jsonb) WHERE id = :m",
        g=json.dumps({"budget_reservation_id": str(reservation)}),
        m=stale,
    )

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await wait_for(lambda: has_status(db_engine, stale, "failed"))

    row = await usage_row(db_engine, made)
    assert row.reserved == Decimal(0)
    assert await open_reservations(db_engine) == 0
    cost = await scalar(db_engine, "SELECT cost FROM usage_logs WHERE message_id = :m", m=stale)
    assert cost > 0
    assert row.spent == cost


# --- a budget set mid-month starts at what its scope already spent --------------------------


async def _issue_token(gql, owner) -> dict:
    issued = (await gql.op("CreateApiToken", owner.token, input={"name": "ci"}))["createApiToken"]
    assert issued["apiToken"]["id"], issued
    return issued


async def _spent_by_scope(gql, owner, workspace) -> dict[str, Decimal]:
    return {b["scope"]: Decimal(b["spent"]) for b in await budgets(gql, owner, workspace)}


async def test_budgets_set_mid_month_start_at_what_their_scope_already_spent(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    """Given two calls with a login token, one with an API token and one by another member,
    when workspace, member and API-token budgets are set, then each starts at its scope's
    spend this month: 4, 3 and 1 calls."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    other = await make_user("other")
    await add_member(owner, workspace, other, "MEMBER")
    mock = await price_the_mock(gql, db_engine, await make_user("root"))
    issued = await _issue_token(gql, owner)
    for token in (owner.token, owner.token, issued["token"], other.token):
        made = await generate(gql, token, workspace, mock, maxTokens=MAX_TOKENS)
        assert made["__typename"] == "Generation", made

    await set_budget(gql, owner, workspace, limit="100")
    await set_budget(gql, owner, workspace, scope="MEMBER", targetId=owner.id, limit="100")
    token_id = issued["apiToken"]["id"]
    await set_budget(gql, owner, workspace, scope="API_TOKEN", targetId=token_id, limit="100")

    spent = await _spent_by_scope(gql, owner, workspace)
    assert spent == {"WORKSPACE": 4 * CALL_COST, "MEMBER": 3 * CALL_COST, "API_TOKEN": CALL_COST}
    tokens = "SELECT count(*) FROM usage_logs WHERE api_token_id = :t"
    assert await scalar(db_engine, tokens, t=db_id(token_id)) == 1


async def test_calls_metered_while_budgets_are_set_are_counted_exactly_once(
    gql, make_user, make_workspace, db_engine
) -> None:
    """Given calls already spent, when 12 calls with an API token run while the workspace
    and API-token budgets are being set, then each budget's spend is exactly the usage of
    its scope (no call lost, none counted twice)."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    mock = await price_the_mock(gql, db_engine, await make_user("root"))
    issued = await _issue_token(gql, owner)
    await generate(gql, owner.token, workspace, mock, maxTokens=MAX_TOKENS)
    token_id = issued["apiToken"]["id"]

    calls = [
        generate(gql, issued["token"], workspace, mock, maxTokens=MAX_TOKENS) for _ in range(12)
    ]
    setting = [
        set_budget(gql, owner, workspace, limit="100"),
        set_budget(gql, owner, workspace, scope="API_TOKEN", targetId=token_id, limit="100"),
    ]
    results = await asyncio.gather(*calls[:6], *setting, *calls[6:])

    assert [r["__typename"] for r in results] == ["Generation"] * 6 + ["Budget"] * 2 + [
        "Generation"
    ] * 6
    spent = await _spent_by_scope(gql, owner, workspace)
    assert spent == {"WORKSPACE": 13 * CALL_COST, "API_TOKEN": 12 * CALL_COST}
    assert await scalar(db_engine, "SELECT sum(cost) FROM usage_logs") == 13 * CALL_COST


async def test_the_sweep_charges_the_api_token_budget_of_a_dead_generation(
    settings, gql, make_user, make_workspace, db_engine
) -> None:
    """Given an answer asked with an API token left streaming by a dead process, when a
    server sweeps it, then its usage row names the token and the token's budget is
    charged its cost."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    await price_the_mock(gql, db_engine, await make_user("root"))
    issued = await _issue_token(gql, owner)
    token_id = issued["apiToken"]["id"]
    conversation = await new_conversation(gql, owner, workspace)
    made = await set_budget(gql, owner, workspace, scope="API_TOKEN", targetId=token_id, limit="9")
    stale = await insert_streaming_answer(db_engine, conversation, db_id(owner.id), "partial")
    await execute(
        db_engine,
        "UPDATE messages SET generation = generation || CAST(:g AS jsonb) WHERE id = :m",
        g=json.dumps({"api_token_id": str(db_id(token_id))}),
        m=stale,
    )

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await wait_for(lambda: has_status(db_engine, stale, "failed"))

    [row] = await fetch(
        db_engine, "SELECT cost, api_token_id FROM usage_logs WHERE message_id = :m", m=stale
    )
    assert row.cost > 0
    assert row.api_token_id == db_id(token_id)
    assert (await usage_row(db_engine, made)).spent == row.cost
