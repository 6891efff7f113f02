"""Feedback: rate a message once per user (updated in place, also under concurrency),
validation per rating type, deletion, the message's feedback lists and the summary."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from synapse_gql.gql.relay import to_global_id
from tests.chat_rows import insert_conversation, insert_message
from tests.helpers import db_id, execute, fetch, scalar, user_error

THUMBS_UP = {"ratingType": "THUMBS", "value": "1"}


async def rate(gql, actor, message: str, **given) -> dict:
    token = actor.token if actor else None
    data = await gql.op("RateMessage", token, input={"messageId": message, **given})
    return data["rateMessage"]


async def delete(gql, actor, message: str) -> dict:
    return (await gql.op("DeleteFeedback", actor.token, messageId=message))["deleteFeedback"]


async def of_message(gql, actor, message: str, **variables) -> dict | None:
    return (await gql.op("FeedbackOfMessage", actor.token, id=message, **variables))["node"]


async def summary(gql, actor, workspace: dict, **variables) -> dict:
    data = await gql.op("FeedbackSummary", actor.token, workspaceId=workspace["id"], **variables)
    return data["workspace"]["feedbackSummary"]


@pytest.fixture
async def team(make_user, make_workspace, add_member, db_engine):
    """A workspace with an owner, a member, a viewer and two messages; an outsider."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    member, viewer, outsider = [await make_user(n) for n in ("member", "viewer", "outsider")]
    await add_member(owner, workspace, member, "MEMBER")
    await add_member(owner, workspace, viewer, "VIEWER")
    conversation = await insert_conversation(db_engine, workspace)
    question = await insert_message(db_engine, conversation, "Why?", role="user")
    answer = await insert_message(db_engine, conversation, "Because.")
    return workspace, owner, member, viewer, outsider, question, answer


async def test_member_rates_thumbs_up(gql, team) -> None:
    """Given a member, when they give a thumbs up, then the feedback is theirs, private,
    and is the message's viewer feedback."""
    _, _, member, _, _, _, answer = team
    result = await rate(gql, member, answer, **THUMBS_UP, category="HELPFUL", comment=" Nice ")
    assert result["__typename"] == "MessageFeedback"
    assert (result["ratingType"], result["value"], result["scaleMax"]) == ("THUMBS", "1", None)
    assert (result["category"], result["comment"], result["isPublic"]) == ("HELPFUL", "Nice", False)
    assert (result["user"], result["ratedMessage"]) == ({"id": member.id}, {"id": answer})
    node = await of_message(gql, member, answer)
    assert node["viewerFeedback"]["id"] == result["id"]


@pytest.mark.parametrize(
    "given",
    [
        {"ratingType": "THUMBS", "value": "0"},
        {"ratingType": "STARS", "value": "5"},
        {"ratingType": "STARS", "value": "1.0"},
        {"ratingType": "CUSTOM", "value": "7.5", "scaleMax": "10"},
        {"ratingType": "CUSTOM", "value": "0", "scaleMax": "1000"},
    ],
)
async def test_viewer_may_rate_within_bounds(gql, team, given) -> None:
    """Given a viewer, when the value fits its rating type, then the rating is stored."""
    _, _, _, viewer, _, question, _ = team
    result = await rate(gql, viewer, question, **given, isPublic=True)
    assert result["__typename"] == "MessageFeedback", result
    assert Decimal(result["value"]) == Decimal(given["value"])
    assert result["isPublic"] is True


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"ratingType": "THUMBS", "value": "2"}, "value"),
        ({"ratingType": "THUMBS", "value": "0.5"}, "value"),
        ({"ratingType": "THUMBS", "value": "1", "scaleMax": "1"}, "scaleMax"),
        ({"ratingType": "STARS", "value": "0"}, "value"),
        ({"ratingType": "STARS", "value": "6"}, "value"),
        ({"ratingType": "STARS", "value": "3.5"}, "value"),
        ({"ratingType": "CUSTOM", "value": "3"}, "scaleMax"),
        ({"ratingType": "CUSTOM", "value": "0", "scaleMax": "0.5"}, "scaleMax"),
        ({"ratingType": "CUSTOM", "value": "3", "scaleMax": "1001"}, "scaleMax"),
        ({"ratingType": "CUSTOM", "value": "11", "scaleMax": "10"}, "value"),
        ({"ratingType": "CUSTOM", "value": "-1", "scaleMax": "10"}, "value"),
        ({"ratingType": "CUSTOM", "value": "1.005", "scaleMax": "10"}, "value"),
        ({**THUMBS_UP, "comment": "c" * 5001}, "comment"),
        ({**THUMBS_UP, "improvementSuggestion": "i" * 5001}, "improvementSuggestion"),
    ],
)
async def test_invalid_ratings_are_refused(gql, team, db_engine, given, field) -> None:
    """Given a member, when a rating breaks its type's rules, then INVALID_INPUT on the field
    and no row."""
    _, _, member, _, _, _, answer = team
    user_error(await rate(gql, member, answer, **given), "INVALID_INPUT", ["input", field])
    assert await scalar(db_engine, "SELECT count(*) FROM message_feedback") == 0


async def test_rating_again_updates_in_place(gql, team, db_engine) -> None:
    """Given a thumbs up, when the same user rates with stars, then one row holds the new
    values under the same ID and another user's rating is separate."""
    _, owner, member, _, _, _, answer = team
    first = await rate(gql, member, answer, **THUMBS_UP, comment="ok")
    second = await rate(gql, member, answer, ratingType="STARS", value="4", category="ACCURATE")
    assert second["id"] == first["id"]
    assert (second["ratingType"], second["value"], second["comment"]) == ("STARS", "4", None)
    assert second["updatedAt"] >= first["updatedAt"]
    await rate(gql, owner, answer, **THUMBS_UP)
    rows = await fetch(db_engine, "SELECT rating_type, value, category FROM message_feedback")
    assert sorted(tuple(r) for r in rows) == [
        ("stars", Decimal("4.00"), "accurate"),
        ("thumbs", Decimal("1.00"), None),
    ]


async def test_concurrent_rates_leave_one_row(gql, team, db_engine) -> None:
    """Given one user, when they send 20 ratings of a message at once, then all succeed
    with the same ID and exactly one row exists."""
    _, _, member, _, _, _, answer = team
    results = await asyncio.gather(
        *(rate(gql, member, answer, ratingType="STARS", value=str(1 + n % 5)) for n in range(20))
    )
    assert {r["__typename"] for r in results} == {"MessageFeedback"}
    assert len({r["id"] for r in results}) == 1
    assert await scalar(db_engine, "SELECT count(*) FROM message_feedback") == 1


async def test_denied_and_missing(gql, team, db_engine) -> None:
    """Given an outsider, no login, a missing message and a wrong ID type, then NOT_FOUND,
    UNAUTHENTICATED, NOT_FOUND and INVALID_ID, and nothing is stored."""
    workspace, _, member, _, outsider, _, answer = team
    path = ["input", "messageId"]
    user_error(await rate(gql, outsider, answer, **THUMBS_UP), "NOT_FOUND", path)
    user_error(await rate(gql, None, answer, **THUMBS_UP), "UNAUTHENTICATED")
    await execute(db_engine, "DELETE FROM messages WHERE id = :id", id=db_id(answer))
    user_error(await rate(gql, member, answer, **THUMBS_UP), "NOT_FOUND", path)
    user_error(await rate(gql, member, workspace["id"], **THUMBS_UP), "INVALID_ID", path)
    assert await scalar(db_engine, "SELECT count(*) FROM message_feedback") == 0


async def test_delete_removes_only_your_own(gql, team, db_engine) -> None:
    """Given ratings by a member and the owner, when the member deletes theirs, then only
    it goes; deleting again is NOT_FOUND; an outsider gets NOT_FOUND and nothing changes."""
    _, owner, member, _, outsider, _, answer = team
    mine = await rate(gql, member, answer, **THUMBS_UP)
    await rate(gql, owner, answer, **THUMBS_UP)
    user_error(await delete(gql, outsider, answer), "NOT_FOUND", ["messageId"])
    assert await delete(gql, member, answer) == {"__typename": "Deleted", "id": mine["id"]}
    user_error(await delete(gql, member, answer), "NOT_FOUND", ["messageId"])
    rows = await fetch(db_engine, "SELECT user_id FROM message_feedback")
    assert [r.user_id for r in rows] == [db_id(owner.id)]


async def test_message_feedback_lists_newest_first(gql, team, db_engine) -> None:
    """Given three ratings of a message, when a viewer pages its feedback two at a time,
    then newest come first and the pages join up; their own feedback is null."""
    _, owner, member, viewer, _, _, answer = team
    for actor, value in ((owner, "1"), (member, "0")):
        await rate(gql, actor, answer, ratingType="THUMBS", value=value)
    await rate(gql, viewer, answer, ratingType="STARS", value="2")
    await execute(db_engine, "DELETE FROM message_feedback WHERE user_id = :u", u=db_id(viewer.id))
    await execute(
        db_engine,
        "UPDATE message_feedback SET created_at = created_at - interval '1 hour'"
        " WHERE user_id = :u",
        u=db_id(owner.id),
    )
    node = await of_message(gql, viewer, answer, first=1)
    assert node["viewerFeedback"] is None
    page = node["feedback"]
    assert (page["totalCount"], [f["user"]["id"] for f in page["nodes"]]) == (2, [member.id])
    rest = (await of_message(gql, viewer, answer, after=page["pageInfo"]["endCursor"]))["feedback"]
    assert [f["user"]["id"] for f in rest["nodes"]] == [owner.id]


async def test_feedback_is_a_node_for_members_only(gql, team) -> None:
    """Given a rating, when a viewer refetches it by ID, then it resolves; for an outsider
    or an unknown ID null."""
    _, _, member, viewer, outsider, _, answer = team
    feedback = await rate(gql, member, answer, **THUMBS_UP)
    query = "query ($id: ID!) { node(id: $id) { ... on MessageFeedback { id value } } }"
    seen = await gql.query(query, {"id": feedback["id"]}, viewer.token)
    assert seen["data"]["node"] == {"id": feedback["id"], "value": "1"}
    hidden = await gql.query(query, {"id": feedback["id"]}, outsider.token)
    assert hidden["data"]["node"] is None
    unknown = to_global_id("MessageFeedback", db_id(answer))
    assert (await gql.query(query, {"id": unknown}, viewer.token))["data"]["node"] is None


async def test_summary_counts_and_averages(gql, team, db_engine, make_workspace) -> None:
    """Given thumbs, stars and custom ratings here and a rating in another workspace, when
    summarising, then counts, averages and categories cover this workspace only."""
    workspace, owner, member, viewer, outsider, question, answer = team
    await rate(gql, owner, answer, **THUMBS_UP, category="HELPFUL")
    await rate(gql, member, answer, ratingType="THUMBS", value="0", category="INACCURATE")
    await rate(gql, viewer, answer, **THUMBS_UP, category="HELPFUL")
    await rate(gql, owner, question, ratingType="STARS", value="4")
    await rate(gql, member, question, ratingType="STARS", value="5", category="CREATIVE")
    await rate(gql, viewer, question, ratingType="CUSTOM", value="3", scaleMax="4")
    theirs = await make_workspace(outsider, "Theirs")
    foreign = await insert_message(db_engine, await insert_conversation(db_engine, theirs))
    await rate(gql, outsider, foreign, **THUMBS_UP, category="HELPFUL")
    result = await summary(gql, viewer, workspace)
    assert (result["totalCount"], result["thumbsUp"], result["thumbsDown"]) == (6, 2, 1)
    assert result["averageStars"] == "4.5"
    assert result["byRatingType"] == [
        {"ratingType": "THUMBS", "count": 3, "averageValue": "0.67"},
        {"ratingType": "STARS", "count": 2, "averageValue": "4.5"},
        {"ratingType": "CUSTOM", "count": 1, "averageValue": "3"},
    ]
    counts = {c["category"]: c["count"] for c in result["byCategory"]}
    assert counts == {
        "HELPFUL": 2,
        "ACCURATE": 0,
        "CREATIVE": 1,
        "HARMFUL": 0,
        "INACCURATE": 1,
        "UNHELPFUL": 0,
        "OTHER": 0,
    }


async def test_summary_period_and_empty_workspace(gql, team, db_engine) -> None:
    """Given an old and a new rating, when summarising since yesterday, then only the new
    one counts; a period without ratings has zero counts and null averages."""
    workspace, owner, member, _, _, _, answer = team
    await rate(gql, owner, answer, ratingType="STARS", value="1")
    await rate(gql, member, answer, ratingType="STARS", value="3")
    await execute(
        db_engine,
        "UPDATE message_feedback SET created_at = now() - interval '3 days' WHERE user_id = :u",
        u=db_id(owner.id),
    )
    rows = await fetch(db_engine, "SELECT now() - interval '1 day' AS since, now() AS until")
    since, until = rows[0].since.isoformat(), rows[0].until.isoformat()
    recent = await summary(gql, owner, workspace, since=since)
    assert (recent["totalCount"], recent["averageStars"]) == (1, "3")
    assert (await summary(gql, owner, workspace))["averageStars"] == "2"
    empty = await summary(gql, owner, workspace, since=until)
    assert (empty["totalCount"], empty["thumbsUp"], empty["averageStars"]) == (0, 0, None)
    assert {t["averageValue"] for t in empty["byRatingType"]} == {None}


async def test_summary_rejects_reversed_period(gql, team) -> None:
    """Given since after until, when summarising, then an INVALID_INPUT error on `until`."""
    workspace, owner, *_ = team
    query = """query ($id: ID!) { workspace(id: $id) {
      feedbackSummary(since: "2024-02-01T00:00:00Z", until: "2024-01-01T00:00:00Z") { totalCount }
    } }"""
    body = await gql.query(query, {"id": workspace["id"]}, owner.token)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["extensions"]["path"] == ["until"]
