"""feedbackSummary: for each grouping, every group equals a plain SQL aggregate over
message_feedback (count, mean normalised score, positive share) and the totals equal the
ratings scored in Python; one statement; usage roles and typed range errors."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from synapse_gql.gql.relay import to_global_id
from tests.helpers import db_id, execute, fetch, user_error
from tests.ledger import insert_conversation

START = datetime(2026, 5, 1, tzinfo=UTC)
END = START + timedelta(days=10)
KEYS = {
    "MODEL": ("m.llm_id", "llmId", "LLM"),
    "AGENT": ("c.agent_id", "agentId", "Agent"),
    "CATEGORY": ("f.category", "category", None),
    "RATING_TYPE": ("f.rating_type", "ratingType", None),
}
SCORE = (
    "CASE f.rating_type WHEN 'thumbs' THEN f.value WHEN 'stars' THEN (f.value - 1) / 4"
    " ELSE f.value / f.scale_max END"
)
PLAIN = """
SELECT {keys} count(*) AS n, avg({score}) AS mean,
       avg(CASE WHEN {score} > 0.5 THEN 1.0 ELSE 0.0 END) AS share
FROM message_feedback f JOIN messages m ON m.id = f.message_id
JOIN conversations c ON c.id = m.conversation_id
WHERE c.workspace_id = :w AND f.created_at >= :start AND f.created_at < :end
{group}
"""
CATEGORIES = ["helpful", "accurate", "harmful", "other", None]


def _rating(rng: random.Random) -> tuple[str, Decimal, Decimal | None, float]:
    """A random rating and its normalised score, computed here independently."""
    kind = rng.choice(["thumbs", "stars", "custom"])
    if kind == "thumbs":
        value = rng.choice([0, 1])
        return kind, Decimal(value), None, float(value)
    if kind == "stars":
        value = rng.randint(1, 5)
        return kind, Decimal(value), None, (value - 1) / 4
    scale = Decimal(rng.choice([3, 10, 100]))
    value = Decimal(rng.randint(0, int(scale)))
    return kind, value, scale, float(value / scale)


async def _assistant_message(engine: AsyncEngine, conversation: uuid.UUID, llm: uuid.UUID):
    message = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO messages (id, conversation_id, role, status, content, llm_id)"
        " VALUES (:id, :c, 'assistant', 'completed', 'Answer', :llm)",
        id=message,
        c=conversation,
        llm=llm,
    )
    return message


async def _rate(engine, rng, message, user, at) -> float:
    kind, value, scale, score = _rating(rng)
    await execute(
        engine,
        "INSERT INTO message_feedback (id, message_id, user_id, rating_type, value, scale_max,"
        " category, is_public, created_at) VALUES (:id, :m, :u, :k, :v, :s, :c, false, :at)",
        id=uuid.uuid4(),
        m=message,
        u=user,
        k=kind,
        v=value,
        s=scale,
        c=rng.choice(CATEGORIES),
        at=at,
    )
    return score


async def _scene(make_user, make_workspace, add_member, engine) -> dict[str, Any]:
    """Two models, a conversation with an agent and one without, random ratings by three
    users, some rated outside [START, END); the scores of those inside."""
    rng = random.Random(9)
    users = [await make_user(n) for n in ("owner", "member", "viewer")]
    workspace = await make_workspace(users[0])
    await add_member(users[0], workspace, users[1])
    await add_member(users[0], workspace, users[2], role="VIEWER")
    llms = [r.id for r in await fetch(engine, "SELECT id FROM llms ORDER BY model_id LIMIT 2")]
    agent = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO agents (id, workspace_id, name, llm_id, parameters, status)"
        " VALUES (:id, :w, 'Helper', :llm, '{}', 'active')",
        id=agent,
        w=db_id(workspace["id"]),
        llm=llms[0],
    )
    with_agent = await insert_conversation(engine, workspace["id"])
    await execute(
        engine, "UPDATE conversations SET agent_id = :a WHERE id = :c", a=agent, c=with_agent
    )
    conversations = [with_agent, await insert_conversation(engine, workspace["id"])]
    scores: list[float] = []
    for index in range(10):
        message = await _assistant_message(engine, conversations[index % 2], rng.choice(llms))
        for user in users:
            at = START + timedelta(hours=rng.randrange(-48, 24 * 12))
            score = await _rate(engine, rng, message, db_id(user.id), at)
            if START <= at < END:
                scores.append(score)
    return {"users": users, "workspace": workspace, "scores": scores}


async def _ask(gql, account, workspace, group_by, start=START, end=END) -> dict:
    data = await gql.op(
        "FeedbackBreakdown",
        account.token,
        workspaceId=workspace["id"],
        **{"from": start.isoformat(), "to": end.isoformat()},
        groupBy=group_by,
    )
    return data["feedbackSummary"]


def _plain_key(row: Any, group_by: list[str]) -> tuple:
    key = []
    for name in group_by:
        value, type_name = getattr(row, f"k{list(KEYS).index(name)}"), KEYS[name][2]
        if value is not None:
            value = to_global_id(type_name, value) if type_name else str(value).upper()
        key.append(value)
    return tuple(key)


async def _plain(engine, workspace, group_by: list[str]) -> dict[tuple, tuple]:
    keys = "".join(f"{KEYS[g][0]} AS k{list(KEYS).index(g)}, " for g in group_by)
    group = f"GROUP BY {', '.join(KEYS[g][0] for g in group_by)}" if group_by else ""
    sql = PLAIN.format(keys=keys, score=SCORE, group=group)
    rows = await fetch(engine, sql, w=db_id(workspace["id"]), start=START, end=END)
    return {_plain_key(r, group_by): (r.n, float(r.mean), float(r.share)) for r in rows}


GROUPINGS = [[], ["MODEL"], ["AGENT", "CATEGORY"], ["RATING_TYPE"], list(KEYS)]


async def test_groups_equal_plain_sql(
    gql, make_user, make_workspace, add_member, db_engine, sql_log
) -> None:
    """Given random ratings of three kinds, when a member asks for them under each
    grouping, then each group equals the plain GROUP BY, the totals equal the scores
    computed in Python, and the report takes one statement (the models of all groups one
    more)."""
    scene = await _scene(make_user, make_workspace, add_member, db_engine)
    for group_by in GROUPINGS:
        with sql_log() as log:
            report = await _ask(gql, scene["users"][1], scene["workspace"], group_by)
        assert report["__typename"] == "FeedbackBreakdown", report
        # The viewer, the role, the report; and one batch for every group's model.
        assert log.count == 3 + ("MODEL" in group_by), log.statements
        await _assert_groups(db_engine, scene["workspace"], group_by, report["groups"])
        _assert_totals(scene["scores"], report["totals"])


async def _assert_groups(engine, workspace, group_by: list[str], groups: list[dict]) -> None:
    expected = await _plain(engine, workspace, group_by)
    got = {tuple(g[KEYS[name][1]] for name in group_by): g for g in groups}
    assert set(got) == set(expected)
    for key, (count, mean, share) in expected.items():
        assert got[key]["count"] == count
        assert got[key]["meanScore"] == pytest.approx(mean, abs=1e-9)
        assert got[key]["positiveShare"] == pytest.approx(share, abs=1e-9)
    counts = [g["count"] for g in groups]
    assert counts == sorted(counts, reverse=True)


def _assert_totals(scores: list[float], totals: dict) -> None:
    assert totals["count"] == len(scores) > 10
    assert totals["meanScore"] == pytest.approx(sum(scores) / len(scores), abs=1e-9)
    positive = sum(1 for s in scores if s > 0.5) / len(scores)
    assert totals["positiveShare"] == pytest.approx(positive, abs=1e-9)


async def test_roles_and_ranges(gql, make_user, make_workspace, add_member) -> None:
    """Given a workspace, when a viewer or a stranger asks, then FORBIDDEN and NOT_FOUND;
    a reversed or too long range is INVALID_INPUT on the argument at fault; an empty range
    has zero ratings and null scores."""
    owner, viewer, stranger = [await make_user(n) for n in ("owner", "viewer", "stranger")]
    workspace = await make_workspace(owner)
    await add_member(owner, workspace, viewer, role="VIEWER")
    user_error(await _ask(gql, viewer, workspace, []), "FORBIDDEN", ["workspaceId"])
    user_error(await _ask(gql, stranger, workspace, []), "NOT_FOUND", ["workspaceId"])
    reversed_range = await _ask(gql, owner, workspace, [], start=END, end=START)
    user_error(reversed_range, "INVALID_INPUT", ["from"])
    too_long = await _ask(gql, owner, workspace, [], start=START - timedelta(days=4000))
    user_error(too_long, "INVALID_INPUT", ["to"])
    empty = await _ask(gql, owner, workspace, ["MODEL"])
    assert empty["groups"] == []
    assert empty["totals"] == {"count": 0, "meanScore": None, "positiveShare": None}
