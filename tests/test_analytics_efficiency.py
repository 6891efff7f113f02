"""llmEfficiency: per model cost per 1,000 tokens, tokens per second, failure rates and the
normalised feedback score of its answers, ranked by score per dollar; all workspaces for
platform admins only."""

from __future__ import annotations

import uuid
from decimal import Decimal

from synapse_gql.analytics.rollups import rebuild_rollups
from tests.helpers import db_id, execute, make_admin, user_error
from tests.ledger import at, insert_conversation, insert_message, insert_usage, iso

RANGE = {"from": iso(0), "to": iso(48)}


async def _llm(engine, model_id: str) -> uuid.UUID:
    from tests.helpers import scalar

    return await scalar(engine, "SELECT id FROM llms WHERE model_id = :m", m=model_id)


async def _usage(engine, workspace, user, llm, hours, *, cost, output, latency, status="success"):
    await insert_usage(
        engine,
        workspace["id"],
        user.id,
        hours,
        llm_id=llm,
        input_tokens=900,
        output_tokens=output,
        total_tokens=900 + output,
        cost=cost,
        latency_ms=latency,
        ttft=latency // 4,
        status=status,
    )


async def _rated_answer(engine, conversation, user, llm, rating: str, value: str, scale=None):
    message = await insert_message(engine, conversation)
    await execute(
        engine,
        "UPDATE messages SET llm_id = :llm, created_at = :at WHERE id = :id",
        llm=llm,
        at=at(2),
        id=message,
    )
    await execute(
        engine,
        "INSERT INTO message_feedback (id, message_id, user_id, rating_type, value, scale_max)"
        " VALUES (:id, :m, :u, :t, :v, :s)",
        id=uuid.uuid4(),
        m=message,
        u=db_id(user.id),
        t=rating,
        v=Decimal(value),
        s=None if scale is None else Decimal(scale),
    )


async def test_models_are_measured_and_ranked_by_score_per_dollar(
    gql, make_user, make_workspace, add_member, db_engine
) -> None:
    # Given three models: an expensive one rated 1.0, a cheap one rated 0.5 with a
    # cancelled call, and an unrated one with a failure
    owner = await make_user("owner")
    rater = await make_user("rater")
    workspace = await make_workspace(owner)
    await add_member(owner, workspace, rater)
    dear, cheap, unrated = [
        await _llm(db_engine, m) for m in ("gpt-4o", "gpt-4o-mini", "synapse-dev")
    ]
    for hour in (1, 3):
        await _usage(db_engine, workspace, owner, dear, hour, cost="0.02", output=100, latency=2000)
    await _usage(db_engine, workspace, owner, cheap, 5, cost="0.001", output=300, latency=1000)
    await _usage(
        db_engine,
        workspace,
        owner,
        cheap,
        6,
        cost="0.0005",
        output=20,
        latency=500,
        status="cancelled",
    )
    await _usage(db_engine, workspace, owner, unrated, 7, cost="0", output=10, latency=100)
    await _usage(
        db_engine, workspace, owner, unrated, 8, cost="0", output=0, latency=50, status="error"
    )
    await _usage(
        db_engine, workspace, owner, dear, 60, cost="9", output=1, latency=1
    )  # after the range
    async with db_engine.begin() as conn:
        await rebuild_rollups(conn)
    conversation = await insert_conversation(db_engine, workspace["id"])
    await _rated_answer(db_engine, conversation, owner, dear, "thumbs", "1")
    await _rated_answer(db_engine, conversation, rater, dear, "stars", "5")
    await _rated_answer(db_engine, conversation, owner, cheap, "stars", "3")
    await _rated_answer(db_engine, conversation, rater, cheap, "custom", "2", scale="4")

    # when a member asks for the report of the workspace
    data = await gql.op("LLMEfficiency", rater.token, workspaceId=workspace["id"], **RANGE)
    report = data["llmEfficiency"]
    assert report["__typename"] == "LLMEfficiencyReport", report
    models = {db_id(m["llmId"]): m for m in report["models"]}

    # then each model's figures are those of its calls and ratings in the range
    assert Decimal(models[dear]["costPer1kTokens"]) == (Decimal("0.04") * 1000 / 2000).quantize(
        Decimal("1e-10")
    )
    assert models[dear]["tokensPerSecond"] == 200 / 4
    assert Decimal(models[dear]["feedbackScore"]) == 1
    assert models[dear]["feedbackCount"] == 2
    assert Decimal(models[cheap]["feedbackScore"]) == Decimal("0.5")
    assert models[cheap]["cancellationRate"] == 0.5
    assert models[cheap]["tokensPerSecond"] == 300  # the successful call only
    assert models[unrated]["errorRate"] == 0.5
    assert models[unrated]["feedbackScore"] is None
    assert models[dear]["calls"] == 2
    # and the ranking is by score per dollar: the cheap model's 0.5 costs far less.
    assert [db_id(m["llmId"]) for m in report["models"]] == [cheap, dear, unrated]
    assert [m["rank"] for m in report["models"]] == [1, 2, 3]
    cheap_price = Decimal("0.0015") * 1000 / (900 * 2 + 320)
    assert Decimal(models[cheap]["scorePerDollar"]) == (Decimal("0.5") / cheap_price).quantize(
        Decimal("1e-4")
    )


async def test_every_workspace_is_for_platform_admins(
    gql, make_user, make_workspace, db_engine
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    await insert_usage(db_engine, workspace["id"], owner.id, 1)
    async with db_engine.begin() as conn:
        await rebuild_rollups(conn)
    refused = await gql.op("LLMEfficiency", owner.token, **RANGE)
    user_error(refused["llmEfficiency"], "FORBIDDEN", ["workspaceId"])
    backwards = await gql.op(
        "LLMEfficiency", owner.token, workspaceId=workspace["id"], **{"from": iso(5), "to": iso(1)}
    )
    user_error(backwards["llmEfficiency"], "INVALID_INPUT", ["from"])
    await make_admin(db_engine, owner.email)
    everywhere = await gql.op("LLMEfficiency", owner.token, **RANGE)
    assert [m["calls"] for m in everywhere["llmEfficiency"]["models"]] == [1]
