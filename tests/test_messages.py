"""Messages: chat history paging, editing with lineage, and a conversation's totals."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from synapse_gql.gql.relay import to_global_id
from tests.chat_helpers import wait_for
from tests.conversation_helpers import (
    BASE_TIME,
    Team,
    add_message,
    add_tag,
    db_id,
    llm_id,
    make_team,
    start,
    tag,
    token,
)
from tests.helpers import execute, fetch, scalar, user_error


@pytest.fixture
async def team(make_user, make_workspace, add_member) -> Team:
    return await make_team(make_user, make_workspace, add_member)


@pytest.fixture
async def chat(gql, team, db_engine) -> tuple[dict, list[str]]:
    """The owner's conversation with seven messages, a minute apart, counted in its totals."""
    conversation = await start(gql, team.owner, team.workspace, title="History")
    ids = [
        await add_message(db_engine, conversation, minute=m, author=team.member) for m in range(7)
    ]
    await execute(
        db_engine,
        "UPDATE conversations SET message_count = 7, last_message_at = :t WHERE id = :id",
        t=BASE_TIME + timedelta(minutes=6),
        id=db_id(conversation["id"]),
    )
    return conversation, ids


async def page(gql, actor, conversation: dict, **args) -> dict:
    data = await gql.op("ConversationMessages", actor.token, id=conversation["id"], **args)
    return data["node"]["messages"]


def contents(connection: dict) -> list[str]:
    return [e["node"]["content"] for e in connection["edges"]]


async def test_last_pages_back_from_the_newest(gql, team, chat) -> None:
    """Given seven messages, when asking for the last 3 and paging back with `before`, then
    each page is in chronological order and the walk ends at the first message."""
    conversation, _ = chat
    newest = await page(gql, team.viewer, conversation, last=3)
    assert contents(newest) == ["message 4", "message 5", "message 6"]
    info = newest["pageInfo"]
    assert (info["hasPreviousPage"], info["hasNextPage"], newest["totalCount"]) == (True, False, 7)
    middle = await page(gql, team.viewer, conversation, last=3, before=info["startCursor"])
    assert contents(middle) == ["message 1", "message 2", "message 3"]
    assert (middle["pageInfo"]["hasPreviousPage"], middle["pageInfo"]["hasNextPage"]) == (
        True,
        True,
    )
    oldest = await page(
        gql, team.viewer, conversation, last=3, before=middle["pageInfo"]["startCursor"]
    )
    assert contents(oldest) == ["message 0"]
    assert oldest["pageInfo"]["hasPreviousPage"] is False


async def test_first_pages_forward_from_the_oldest(gql, team, chat) -> None:
    """Given seven messages, when paging forwards 4 at a time, then oldest first, two pages."""
    conversation, _ = chat
    start_page = await page(gql, team.member, conversation, first=4)
    assert contents(start_page) == [f"message {m}" for m in range(4)]
    assert start_page["pageInfo"]["hasNextPage"] is True
    rest = await page(
        gql, team.member, conversation, first=4, after=start_page["pageInfo"]["endCursor"]
    )
    assert contents(rest) == ["message 4", "message 5", "message 6"]
    assert (rest["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasPreviousPage"]) == (False, True)


async def test_message_fields_and_node(gql, team, db_engine) -> None:
    """Given an assistant message with usage figures, when refetched by a viewer, then every
    field shows; an outsider gets null."""
    conversation = await start(gql, team.owner, team.workspace)
    message = await add_message(
        db_engine,
        conversation,
        minute=1,
        role="assistant",
        content="Hi!",
        llm_id=await llm_id(db_engine),
        input_tokens=12,
        output_tokens=3,
        cost=Decimal("0.0015"),
        latency_ms=420,
        time_to_first_token_ms=80,
        finish_reason="stop",
        completed_at=BASE_TIME + timedelta(minutes=2),
    )
    node = (await gql.op("MessageNode", team.viewer.token, id=message))["node"]
    assert (node["__typename"], node["role"], node["content"], node["status"]) == (
        "Message",
        "ASSISTANT",
        "Hi!",
        "COMPLETED",
    )
    assert (node["inputTokens"], node["outputTokens"], Decimal(node["cost"])) == (
        12,
        3,
        Decimal("0.0015"),
    )
    assert (node["latencyMs"], node["timeToFirstTokenMs"], node["finishReason"]) == (
        420,
        80,
        "stop",
    )
    assert (node["llm"]["modelId"], node["author"], node["parent"]) == ("synapse-dev", None, None)
    assert node["conversation"] == {"id": conversation["id"]}
    assert datetime.fromisoformat(node["completedAt"]) == BASE_TIME + timedelta(minutes=2)
    assert (await gql.op("MessageNode", team.outsider.token, id=message))["node"] is None


async def edit(gql, actor, message: str, content: str) -> dict:
    """``editMessage``: a ChatTurn (the edited question and its answer) or a UserError."""
    given = {"messageId": message, "content": content}
    return (await gql.op("EditMessage", token(actor), input=given))["editMessage"]


async def answer_ended(db_engine, answer: dict) -> tuple[str, str]:
    """(status, content) of an answer once it no longer streams."""

    async def ended() -> tuple[str, str] | None:
        sql = "SELECT status, content FROM messages WHERE id = :id"
        [row] = await fetch(db_engine, sql, id=db_id(answer["id"]))
        return None if row.status == "streaming" else (row.status, row.content)

    return await wait_for(ended)


async def test_edit_creates_a_new_message_with_lineage(gql, team, db_engine, chat) -> None:
    """Given the author's message, when they edit it twice, then each edit is a new
    completed user message whose parent is the previous one, answered by a new assistant
    message replying to it; the originals stay, and the conversation counts both messages
    of each edit and moves its last activity."""
    conversation, ids = chat
    first = await edit(gql, team.member, ids[2], "message 2, clarified")
    assert first["__typename"] == "ChatTurn", first
    question = first["userMessage"]
    assert (question["role"], question["status"], question["content"]) == (
        "USER",
        "COMPLETED",
        "message 2, clarified",
    )
    assert (question["author"], question["parent"]) == (
        {"id": team.member.id},
        {"id": ids[2], "content": "message 2"},
    )
    assert question["completedAt"] is not None
    answer = first["assistantMessage"]
    assert (answer["role"], answer["status"], answer["parent"]) == ("ASSISTANT", "STREAMING", None)
    assert answer["replyTo"] == {"id": question["id"], "content": "message 2, clarified"}
    assert first["conversation"]["messageCount"] == 9

    second = await edit(gql, team.member, question["id"], "message 2, final")
    assert second["__typename"] == "ChatTurn", second
    final = second["userMessage"]
    assert final["parent"] == {"id": question["id"], "content": "message 2, clarified"}
    assert second["assistantMessage"]["replyTo"]["id"] == final["id"]
    sql = "SELECT content, parent_id FROM messages WHERE id = :id"
    assert await fetch(db_engine, sql, id=db_id(ids[2])) == [("message 2", None)]
    assert await fetch(db_engine, sql, id=db_id(question["id"])) == [
        ("message 2, clarified", db_id(ids[2]))
    ]
    [row] = await fetch(db_engine, "SELECT message_count, last_message_at FROM conversations")
    assert (row.message_count, row.last_message_at) == (
        11,
        datetime.fromisoformat(second["conversation"]["lastMessageAt"]),
    )
    assert row.last_message_at > datetime.fromisoformat(first["conversation"]["lastMessageAt"])
    assert await scalar(db_engine, "SELECT count(*) FROM messages") == 11
    status, content = await answer_ended(db_engine, second["assistantMessage"])
    assert status == "completed"
    assert content.startswith("You said: message 2, final.")
    history = await page(gql, team.viewer, conversation, last=4)
    assert [e["node"]["id"] for e in history["edges"]] == [
        question["id"],
        answer["id"],
        final["id"],
        second["assistantMessage"]["id"],
    ]


async def test_concurrent_edits_are_all_counted(gql, team, db_engine, chat) -> None:
    """Given seven counted messages, when five edits run at once, then each adds its
    question and its answer: the count is seventeen, as many as the rows."""
    _, ids = chat
    results = await asyncio.gather(*(edit(gql, team.member, ids[i], f"edit {i}") for i in range(5)))
    assert {r["__typename"] for r in results} == {"ChatTurn"}
    assert await scalar(db_engine, "SELECT message_count FROM conversations") == 17
    assert await scalar(db_engine, "SELECT count(*) FROM messages") == 17
    roles = "SELECT role, count(*) FROM messages GROUP BY role"
    assert dict(await fetch(db_engine, roles)) == {"user": 12, "assistant": 5}


@pytest.mark.parametrize("content", ["", "   \n", "x" * 100_001])
async def test_edit_validates_content(gql, team, db_engine, chat, content) -> None:
    """Given the author, when the new content is blank or too long, then INVALID_INPUT and
    nothing is saved: no question, no answer, no usage, the count stays."""
    _, ids = chat
    user_error(await edit(gql, team.member, ids[0], content), "INVALID_INPUT", ["input", "content"])
    assert await scalar(db_engine, "SELECT count(*) FROM messages") == 7
    assert await scalar(db_engine, "SELECT message_count FROM conversations") == 7
    assert await scalar(db_engine, "SELECT count(*) FROM usage_logs") == 0


async def test_content_of_100000_characters_is_fine(gql, team, db_engine, chat) -> None:
    """Given the limit of 100 000 characters, when an edit has exactly that, then it is kept
    (and answered)."""
    _, ids = chat
    result = await edit(gql, team.member, ids[0], "y" * 100_000)
    assert result["__typename"] == "ChatTurn", result
    assert len(result["userMessage"]["content"]) == 100_000
    assert await scalar(db_engine, "SELECT message_count FROM conversations") == 9


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("owner", "FORBIDDEN"),
        ("viewer", "FORBIDDEN"),
        ("outsider", "NOT_FOUND"),
        ("anonymous", "UNAUTHENTICATED"),
    ],
)
async def test_only_the_author_may_edit(gql, team, db_engine, chat, who, code) -> None:
    """Given a member's message, when anyone else edits it (even the owner), then refused,
    no message is added and the count stays."""
    _, ids = chat
    result = await edit(gql, team.caller(who), ids[0], "not yours")
    user_error(result, code, None if who == "anonymous" else ["input", "messageId"])
    assert await scalar(db_engine, "SELECT count(*) FROM messages") == 7
    assert await scalar(db_engine, "SELECT message_count FROM conversations") == 7


async def test_assistant_messages_and_demoted_authors_cannot_edit(
    gql, team, db_engine, chat
) -> None:
    """Given an assistant message, when edited, then FORBIDDEN; given the author demoted to
    viewer, when they edit their message, then FORBIDDEN; unknown IDs are NOT_FOUND."""
    conversation, ids = chat
    answer = await add_message(db_engine, conversation, minute=9, role="assistant")
    user_error(await edit(gql, team.owner, answer, "x"), "FORBIDDEN", ["input", "messageId"])
    change = {"workspaceId": team.workspace["id"], "userId": team.member.id, "role": "VIEWER"}
    await gql.op("ChangeMemberRole", team.owner.token, input=change)
    user_error(await edit(gql, team.member, ids[0], "x"), "FORBIDDEN", ["input", "messageId"])
    missing = to_global_id("Message", uuid.uuid4())
    user_error(await edit(gql, team.member, missing, "x"), "NOT_FOUND", ["input", "messageId"])
    wrong = await edit(gql, team.member, conversation["id"], "x")
    user_error(wrong, "INVALID_ID", ["input", "messageId"])
    assert await scalar(db_engine, "SELECT count(*) FROM messages") == 8


async def test_totals_and_llm_usage(gql, team, db_engine) -> None:
    """Given a conversation's totals and two per-model rows, when read, then the totals show
    and llmUsage lists the models first used first, with average latency."""
    conversation = await start(gql, team.owner, team.workspace)
    cid = db_id(conversation["id"])
    await execute(
        db_engine,
        "UPDATE conversations SET total_input_tokens = 300, total_output_tokens = 120,"
        " total_cost = 0.0125, message_count = 4 WHERE id = :id",
        id=cid,
    )
    rows = [("gpt-4o", 1, 3, 200, 90, "0.0120", 900), ("synapse-dev", 0, 1, 100, 30, "0.0005", 0)]
    for model, day, calls, tokens_in, tokens_out, cost, latency in rows:
        await execute(
            db_engine,
            "INSERT INTO conversation_llms (id, conversation_id, llm_id, call_count, input_tokens,"
            " output_tokens, total_cost, total_latency_ms, first_used_at, last_used_at)"
            " VALUES (:id, :c, :l, :n, :i, :o, :cost, :lat, :first, :last)",
            id=uuid.uuid4(),
            c=cid,
            l=await llm_id(db_engine, model),
            n=calls,
            i=tokens_in,
            o=tokens_out,
            cost=Decimal(cost),
            lat=latency,
            first=BASE_TIME + timedelta(days=day),
            last=BASE_TIME + timedelta(days=day, hours=1),
        )
    node = (await gql.op("ConversationNode", team.viewer.token, id=conversation["id"]))["node"]
    assert (node["messageCount"], node["totalInputTokens"], node["totalOutputTokens"]) == (
        4,
        300,
        120,
    )
    assert Decimal(node["totalCost"]) == Decimal("0.0125")
    usage = node["llmUsage"]
    assert [u["llm"]["modelId"] for u in usage] == ["synapse-dev", "gpt-4o"]
    dev, big = usage
    assert (dev["callCount"], dev["inputTokens"], dev["outputTokens"]) == (1, 100, 30)
    assert (big["callCount"], Decimal(big["totalCost"]), big["averageLatencyMs"]) == (
        3,
        Decimal("0.012"),
        300.0,
    )
    assert datetime.fromisoformat(big["lastUsedAt"]) == BASE_TIME + timedelta(days=1, hours=1)
    assert big["conversation"] == {"id": conversation["id"]}
    seen = (await gql.op("MessageNode", team.viewer.token, id=big["id"]))["node"]
    assert seen == {
        "__typename": "ConversationLLM",
        "callCount": 3,
        "conversation": {"id": conversation["id"]},
    }
    assert (await gql.op("MessageNode", team.outsider.token, id=big["id"]))["node"] is None


async def test_message_lists_are_batched(gql, team, db_engine) -> None:
    """Given two conversations with messages, when listing each one's last message in one
    query, then every conversation gets its own."""
    for title in ("A", "B"):
        conversation = await start(gql, team.owner, team.workspace, title=title)
        for minute in range(3):
            await add_message(db_engine, conversation, minute=minute, content=f"{title}{minute}")
    query = """query ($w: ID!) { workspace(id: $w) { conversations(orderBy: CREATED) { edges {
      node { title messages(last: 1) { totalCount edges { node { content } } } } } } } }"""
    body = await gql.query(query, {"w": team.workspace["id"]}, team.member.token)
    found = [
        (e["node"]["title"], e["node"]["messages"]["totalCount"], contents(e["node"]["messages"]))
        for e in body["data"]["workspace"]["conversations"]["edges"]
    ]
    assert found == [("B", 3, ["B2"]), ("A", 3, ["A2"])]


async def test_tags_feedback_and_usage_are_wired(gql, team, db_engine) -> None:
    """Given a tagged conversation and message without feedback or usage, when read, then
    the tags show and feedback, viewerFeedback and usage are empty."""
    conversation = await start(gql, team.owner, team.workspace)
    message = await add_message(db_engine, conversation, minute=1, author=team.owner)
    label = await add_tag(db_engine, team.workspace, "urgent")
    await tag(db_engine, conversation, label)
    await execute(
        db_engine,
        "INSERT INTO message_tags (message_id, tag_id) VALUES (:m, :t)",
        m=db_id(message),
        t=db_id(label),
    )
    query = """query ($id: ID!) { node(id: $id) { ... on Conversation { tags { name }
      messages { edges { node { tags { name } feedback { totalCount } viewerFeedback { id }
      usage { id } } } } } } }"""
    body = await gql.query(query, {"id": conversation["id"]}, team.viewer.token)
    node = body["data"]["node"]
    [edge] = node["messages"]["edges"]
    assert (node["tags"], edge["node"]["tags"]) == ([{"name": "urgent"}], [{"name": "urgent"}])
    assert edge["node"]["feedback"] == {"totalCount": 0}
    assert (edge["node"]["viewerFeedback"], edge["node"]["usage"]) == (None, None)
