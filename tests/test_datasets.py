"""Feedback datasets: the mutation's link, the JSON Lines route, roles, refused links and
the context of a rated answer; feedback that is not public never appears."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import orjson
import pytest

from synapse_gql.datasets import links
from synapse_gql.gql.relay import decode_id, to_global_id
from tests.helpers import db_id, error_codes, execute, fetch, user_error

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FROM, TO = T0 - timedelta(days=1), T0 + timedelta(days=1)


async def conversation(engine, workspace: dict, project: uuid.UUID | None = None) -> uuid.UUID:
    conversation_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO conversations (id, workspace_id, project_id, title, status, metadata,"
        " total_cost) VALUES (:id, :ws, :project, 'Chat', 'active', '{}'::jsonb, 0)",
        id=conversation_id,
        ws=decode_id(workspace["id"], "Workspace"),
        project=project,
    )
    return conversation_id


async def message(engine, conversation_id, minute: float, role: str, content: str, **given):
    """A message ``minute`` minutes after T0 (completed unless ``status`` says otherwise)."""
    message_id = uuid.uuid4()
    await execute(
        engine,
        "INSERT INTO messages (id, conversation_id, role, content, status, llm_id, parent_id,"
        " reply_to_id, created_at) VALUES (:id, :c, :role, :content, :status, :llm, :parent,"
        " :reply_to, :at)",
        id=message_id,
        c=conversation_id,
        role=role,
        content=content,
        status=given.get("status", "completed"),
        llm=given.get("llm"),
        parent=given.get("parent"),
        reply_to=given.get("reply_to"),
        at=T0 + timedelta(minutes=minute),
    )
    return message_id


async def rate(engine, message_id, user, public: bool, kind="thumbs", value=1, **given) -> None:
    await execute(
        engine,
        "INSERT INTO message_feedback (id, message_id, user_id, rating_type, value, scale_max,"
        " category, improvement_suggestion, is_public, created_at) VALUES (:id, :m, :u, :kind,"
        " :value, :scale, :category, :suggestion, :public, :at)",
        id=uuid.uuid4(),
        m=message_id,
        u=db_id(user.id),
        kind=kind,
        value=value,
        scale=given.get("scale"),
        category=given.get("category"),
        suggestion=given.get("suggestion"),
        public=public,
        at=given.get("at", T0 + timedelta(hours=1)),
    )


async def start(gql, actor, workspace: dict, **given) -> dict:
    variables = {"workspaceId": workspace["id"], "from": FROM.isoformat(), "to": TO.isoformat()}
    data = await gql.op("StartFeedbackDatasetExport", actor.token, input=variables | given)
    return data["startFeedbackDatasetExport"]


async def download(http, export: dict, token: str | None = None):
    assert export["__typename"] == "FeedbackDatasetExport", export
    url = urlsplit(export["url"])
    assert (url.scheme, url.netloc) == ("http", "testserver")
    assert url.path.startswith("/datasets/feedback/")
    assert url.path.endswith(".jsonl")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.get(url.path, headers=headers)


async def lines(http, export: dict) -> list[dict]:
    response = await download(http, export)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [orjson.loads(line) for line in response.content.splitlines()]


def refused(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert error_codes(response.json()) == [code]


@pytest.fixture
async def team(make_user, make_workspace, add_member):
    """A workspace with an owner, an admin, a member and a viewer; an outsider."""
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    people = {"owner": owner}
    for role in ("admin", "member", "viewer", "outsider"):
        people[role] = await make_user(role)
        if role != "outsider":
            await add_member(owner, workspace, people[role], role.upper())
    return workspace, people


@pytest.fixture
async def model(db_engine) -> tuple[uuid.UUID, str]:
    row = (await fetch(db_engine, "SELECT id, provider, model_id FROM llms ORDER BY id LIMIT 1"))[0]
    return row.id, f"{row.provider}/{row.model_id}"


async def test_a_rated_answer_in_the_middle_has_the_turns_before_it(
    gql, http, team, db_engine, model
) -> None:
    """Given a thread with an edited question, a regenerated answer and a failed one, when
    a member exports, then each public rating of an answer is a line whose context is the
    kept turns before that answer, in order; later turns, replaced messages, the answer to
    the replaced question, failed answers, ratings of questions and other workspaces'
    feedback stay out."""
    workspace, people = team
    llm, model_name = model
    chat = await conversation(db_engine, workspace)
    await message(db_engine, chat, 0, "user", "What is 2+2?")
    a1 = await message(db_engine, chat, 1, "assistant", "4", llm=llm)
    typo = await message(db_engine, chat, 1.2, "user", "And 3+3 ?")
    await message(db_engine, chat, 1.4, "assistant", "Typo?", llm=llm, reply_to=typo)
    q2 = await message(db_engine, chat, 2, "user", "And 3+3?", parent=typo)
    old = await message(db_engine, chat, 3, "assistant", "5", llm=llm)
    await message(db_engine, chat, 4, "assistant", "", status="failed", llm=llm)
    a2 = await message(db_engine, chat, 5, "assistant", "6", llm=llm, parent=old)
    await message(db_engine, chat, 6, "user", "Thanks")
    a3 = await message(db_engine, chat, 7, "assistant", "You're welcome", llm=llm)
    member, admin = people["member"], people["admin"]
    await rate(db_engine, a1, member, True, "stars", 4, category="helpful")
    await rate(db_engine, a2, admin, True, "custom", 7.5, scale=10, suggestion="Show work")
    await rate(db_engine, a3, member, True, at=TO + timedelta(minutes=1))  # after the range
    await rate(db_engine, q2, member, True)  # a question, not an answer
    other_owner = people["outsider"]
    elsewhere = await conversation(db_engine, await _workspace_of(gql, other_owner))
    await rate(
        db_engine, await message(db_engine, elsewhere, 0, "assistant", "x"), other_owner, True
    )

    rows = await lines(http, await start(gql, member, workspace))

    assert [row["messageId"] for row in rows] == [_gid(a1), _gid(a2)]
    first, middle = rows
    assert first["context"] == [{"role": "user", "content": "What is 2+2?"}]
    assert middle["context"] == [
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
    ]
    assert (middle["answer"], middle["model"], middle["suggestion"]) == (
        "6",
        model_name,
        "Show work",
    )
    assert middle["rating"] == {"type": "CUSTOM", "value": 7.5, "scale": 10.0, "score": 0.75}
    assert first["rating"] == {"type": "STARS", "value": 4.0, "scale": 5.0, "score": 0.75}
    assert (first["category"], middle["category"]) == ("HELPFUL", None)
    assert first["conversationId"] == to_global_id("Conversation", chat)
    assert first["ratedAt"].endswith("Z")


def _gid(message_id: uuid.UUID) -> str:
    return to_global_id("Message", message_id)


async def _workspace_of(gql, owner) -> dict:
    data = await gql.op("CreateWorkspace", owner.token, input={"name": "Elsewhere"})
    return data["createWorkspace"]


async def test_feedback_that_is_not_public_never_appears_even_for_the_owner(
    gql, http, team, db_engine
) -> None:
    """Given the owner's own private rating, the owner's export is empty; once a public
    rating exists it is the only line."""
    workspace, people = team
    owner = people["owner"]
    chat = await conversation(db_engine, workspace)
    answer = await message(db_engine, chat, 1, "assistant", "Private")
    await rate(db_engine, answer, owner, False, "thumbs", 0)

    assert await lines(http, await start(gql, owner, workspace)) == []

    await rate(db_engine, answer, people["admin"], True, "thumbs", 1)
    rows = await lines(http, await start(gql, owner, workspace))
    assert [row["rating"] for row in rows] == [
        {"type": "THUMBS", "value": 1.0, "scale": 1.0, "score": 1.0}
    ]


async def test_projects_and_models_filter_the_export(gql, http, team, db_engine, model) -> None:
    """projectIds keeps the projects' conversations, llmIds the models' answers."""
    workspace, people = team
    member, llm = people["member"], model[0]
    project = (
        await gql.op(
            "CreateProject", member.token, input={"workspaceId": workspace["id"], "name": "P"}
        )
    )["createProject"]
    in_project = await conversation(db_engine, workspace, db_id(project["id"]))
    loose = await conversation(db_engine, workspace)
    kept = await message(db_engine, in_project, 1, "assistant", "kept", llm=llm)
    await rate(db_engine, kept, member, True)
    await rate(db_engine, await message(db_engine, loose, 1, "assistant", "other"), member, True)

    by_project = await lines(http, await start(gql, member, workspace, projectIds=[project["id"]]))
    by_model = await lines(
        http, await start(gql, member, workspace, llmIds=[to_global_id("LLM", llm)])
    )

    assert [row["answer"] for row in by_project] == ["kept"]
    assert [row["answer"] for row in by_model] == ["kept"]


async def test_members_and_above_start_exports(gql, team) -> None:
    """Owners, admins and members get a link; a viewer is FORBIDDEN, an outsider gets
    NOT_FOUND, an anonymous caller UNAUTHENTICATED; a bad range is INVALID_INPUT."""
    workspace, people = team
    for role in ("owner", "admin", "member"):
        export = await start(gql, people[role], workspace)
        assert export["__typename"] == "FeedbackDatasetExport", (role, export)
        expires = datetime.fromisoformat(export["expiresAt"])
        assert timedelta(minutes=14) < expires - datetime.now(UTC) <= links.LINK_TTL
    user_error(await start(gql, people["viewer"], workspace), "FORBIDDEN", ["input", "workspaceId"])
    user_error(await start(gql, people["outsider"], workspace), "NOT_FOUND")
    backwards = await start(gql, people["owner"], workspace, **{"from": TO.isoformat()})
    user_error(backwards, "INVALID_INPUT", ["input", "from"])
    variables = {"workspaceId": workspace["id"], "from": FROM.isoformat(), "to": TO.isoformat()}
    anonymous = await gql.op("StartFeedbackDatasetExport", None, input=variables)
    user_error(anonymous["startFeedbackDatasetExport"], "UNAUTHENTICATED")


async def test_forged_expired_and_foreign_links_are_refused(
    gql, http, app, team, db_engine
) -> None:
    """A tampered or expired link, an access token in its place or a bad bearer token is
    401 UNAUTHENTICATED; another user's bearer token or a role lost since is 403 FORBIDDEN;
    the issuer's own bearer token is accepted."""
    workspace, people = team
    member = people["member"]
    export = await start(gql, member, workspace)
    token = urlsplit(export["url"]).path.removeprefix("/datasets/feedback/").removesuffix(".jsonl")
    keyring = app.state.synapse.keyring
    wanted = links.read(keyring, token)
    expired, _ = keyring.issue_link_token(
        links.LINK_PURPOSE, {"sub": str(wanted.user_id)}, timedelta(seconds=-1)
    )

    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), member.token, expired):
        refused(await http.get(links.path_of(bad)), 401, "UNAUTHENTICATED")
    refused(await download(http, export, "not-a-token"), 401, "UNAUTHENTICATED")
    refused(await download(http, export, people["admin"].token), 403, "FORBIDDEN")
    assert (await download(http, export, member.token)).status_code == 200

    await execute(
        db_engine,
        "UPDATE workspace_members SET role = 'viewer' WHERE user_id = :u",
        u=db_id(member.id),
    )
    refused(await download(http, export), 403, "FORBIDDEN")
