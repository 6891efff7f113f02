"""The workspace's fallback model: set, read back, clear, keep, validate, permissions."""

from __future__ import annotations

import uuid

import pytest

from synapse_gql.gql.relay import decode_id, to_global_id
from tests.helpers import execute, fetch, user_error


async def llm(db_engine, model_id: str = "gpt-4o") -> str:
    """The global ID of a seeded catalog model."""
    [row] = await fetch(db_engine, "SELECT id FROM llms WHERE model_id = :m", m=model_id)
    return to_global_id("LLM", row.id)


async def update(gql, actor, workspace: dict, **changes) -> dict:
    given = {"id": workspace["id"], **changes}
    return (await gql.op("UpdateWorkspace", actor.token, input=given))["updateWorkspace"]


async def stored_fallback(db_engine, workspace: dict) -> uuid.UUID | None:
    """The fallback model id stored on the workspace row."""
    sql = "SELECT fallback_llm_id FROM workspaces WHERE id = :id"
    [row] = await fetch(db_engine, sql, id=decode_id(workspace["id"], "Workspace"))
    return row.fallback_llm_id


@pytest.fixture
async def owned(make_user, make_workspace):
    """An owner and their new workspace."""
    owner = await make_user("owner")
    return owner, await make_workspace(owner)


async def test_set_read_back_and_clear(gql, owned, db_engine) -> None:
    """Given a new workspace without a fallback, when the owner sets one, then it is returned
    and read back; when set to null, then it is cleared."""
    owner, workspace = owned
    assert workspace["fallbackLlm"] is None
    model = await llm(db_engine, "gpt-4o")
    result = await update(gql, owner, workspace, fallbackLlmId=model)
    assert result["__typename"] == "Workspace", result
    assert result["fallbackLlm"] == {"id": model, "modelId": "gpt-4o"}
    read = (await gql.op("Workspace", owner.token, id=workspace["id"]))["workspace"]
    assert read["fallbackLlm"] == {"id": model, "modelId": "gpt-4o"}
    listed = (await gql.op("Workspaces", owner.token, first=10))["workspaces"]["edges"]
    assert [e["node"]["fallbackLlm"] for e in listed] == [{"id": model, "modelId": "gpt-4o"}]

    cleared = await update(gql, owner, workspace, fallbackLlmId=None)
    assert cleared["fallbackLlm"] is None
    assert await stored_fallback(db_engine, workspace) is None


async def test_absent_field_leaves_it_unchanged(gql, owned, db_engine) -> None:
    """Given a fallback, when an update omits fallbackLlmId (or only sets the default), then
    the fallback stays."""
    owner, workspace = owned
    model = await llm(db_engine, "claude-3-opus-20240229")
    await update(gql, owner, workspace, fallbackLlmId=model)
    renamed = await update(gql, owner, workspace, name="Renamed")
    assert renamed["name"] == "Renamed"
    assert renamed["fallbackLlm"]["id"] == model
    default = await update(gql, owner, workspace, defaultLlmId=await llm(db_engine))
    assert default["fallbackLlm"]["id"] == model
    assert await stored_fallback(db_engine, workspace) == decode_id(model, "LLM")


async def test_inactive_or_unknown_model_rejected(gql, owned, db_engine) -> None:
    """Given a retired model and an unknown id, when set as fallback, then MODEL_INACTIVE or
    NOT_FOUND on ["input", "fallbackLlmId"], a non-LLM id is INVALID_ID, and no change."""
    owner, workspace = owned
    kept = await llm(db_engine, "gpt-4o")
    await update(gql, owner, workspace, fallbackLlmId=kept)
    retired = await llm(db_engine, "gpt-4-turbo")
    await execute(db_engine, "UPDATE llms SET is_active = false WHERE model_id = 'gpt-4-turbo'")
    path = ["input", "fallbackLlmId"]
    user_error(await update(gql, owner, workspace, fallbackLlmId=retired), "MODEL_INACTIVE", path)
    unknown = to_global_id("LLM", uuid.uuid4())
    user_error(await update(gql, owner, workspace, fallbackLlmId=unknown), "NOT_FOUND", path)
    wrong = await update(gql, owner, workspace, fallbackLlmId=workspace["id"])
    user_error(wrong, "INVALID_ID", path)
    assert await stored_fallback(db_engine, workspace) == decode_id(kept, "LLM")


@pytest.mark.parametrize("role", ["MEMBER", "VIEWER"])
async def test_non_admin_is_forbidden(gql, owned, make_user, add_member, db_engine, role) -> None:
    """Given a member below admin, when they set the fallback, then FORBIDDEN and no change;
    an admin may."""
    owner, workspace = owned
    user = await make_user(role.lower())
    await add_member(owner, workspace, user, role)
    model = await llm(db_engine)
    result = await update(gql, user, workspace, fallbackLlmId=model)
    user_error(result, "FORBIDDEN", ["input", "id"])
    assert await stored_fallback(db_engine, workspace) is None
    admin = await make_user("admin")
    await add_member(owner, workspace, admin, "ADMIN")
    assert (await update(gql, admin, workspace, fallbackLlmId=model))["fallbackLlm"]["id"] == model
