"""Relay refetching: `node` and `nodes` return what the viewer may see, null otherwise."""

from __future__ import annotations

import base64
import uuid

import pytest

from synapse_gql.gql.relay import to_global_id
from tests.helpers import error_codes

NODE = "query ($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


async def api_token_id(gql, token: str) -> str:
    data = await gql.op("CreateApiToken", token, input={"name": "ci"})
    return data["createApiToken"]["apiToken"]["id"]


async def llm_id(gql, token: str, model_id: str = "gpt-4o") -> str:
    data = await gql.op("Llms", token, first=100)
    return next(e["node"]["id"] for e in data["llms"]["edges"] if e["node"]["modelId"] == model_id)


async def test_node_returns_own_user_token_and_a_model(gql, make_user) -> None:
    """Given Ada's ids, when Ada asks for each node, then she gets User, ApiToken and LLM."""
    ada = await make_user("ada")
    token_id = await api_token_id(gql, ada.token)
    model_id = await llm_id(gql, ada.token)

    user = (await gql.op("Node", ada.token, id=ada.id))["node"]
    api_token = (await gql.op("Node", ada.token, id=token_id))["node"]
    llm = (await gql.op("Node", ada.token, id=model_id))["node"]

    assert user == {"__typename": "User", "id": ada.id, "email": ada.email}
    assert api_token == {"__typename": "ApiToken", "id": token_id, "name": "ci"}
    assert llm == {"__typename": "LLM", "id": model_id, "modelId": "gpt-4o"}


async def test_other_users_token_and_profile_are_null(gql, make_user) -> None:
    """Given Bob's token and Bob sharing no workspace, when Ada asks, then both are null."""
    ada, bob = await make_user("ada"), await make_user("bob")
    bobs_token = await api_token_id(gql, bob.token)

    assert (await gql.op("Node", ada.token, id=bobs_token))["node"] is None
    assert (await gql.op("Node", ada.token, id=bob.id))["node"] is None
    assert (await gql.op("Node", bob.token, id=bobs_token))["node"]["id"] == bobs_token


async def test_anonymous_node_is_null(gql, make_user) -> None:
    """Given no token, when asking for a model or a user, then null (no error)."""
    ada = await make_user("ada")
    model_id = await llm_id(gql, ada.token)

    body = await gql.query(NODES, {"ids": [model_id, ada.id]})

    assert body["data"] == {"nodes": [None, None]}
    assert "errors" not in body


async def test_nodes_keeps_order_and_nulls_missing(gql, make_user) -> None:
    """Given a mix of found and missing ids, then results follow the input order."""
    ada = await make_user("ada")
    opus = await llm_id(gql, ada.token, "claude-3-opus-20240229")
    gpt4o = await llm_id(gql, ada.token, "gpt-4o")
    missing_llm = to_global_id("LLM", uuid.uuid4())
    missing_user = to_global_id("User", uuid.uuid4())
    ids = [opus, missing_llm, ada.id, gpt4o, missing_user, opus]

    nodes = (await gql.op("Nodes", ada.token, ids=ids))["nodes"]

    assert [n and n["id"] for n in nodes] == [opus, None, ada.id, gpt4o, None, opus]
    assert [n and n["__typename"] for n in nodes] == ["LLM", None, "User", "LLM", None, "LLM"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "not base64!",
        "",
        b64(b"no-colon-here"),
        b64(b"User:not-a-uuid"),
        b64(b"\xff\xfe:\xfa"),
        "ümlaut",
    ],
)
async def test_malformed_id_is_an_invalid_id_error(gql, make_user, bad_id) -> None:
    """Given a malformed id, when asking for it, then an INVALID_ID error (not a 500)."""
    ada = await make_user("ada")

    single = await gql.query(NODE, {"id": bad_id}, ada.token)
    many = await gql.query(NODES, {"ids": [ada.id, bad_id]}, ada.token)

    assert error_codes(single) == ["INVALID_ID"]
    assert error_codes(many) == ["INVALID_ID"]
    assert "not a valid ID" in single["errors"][0]["message"]


async def test_unknown_type_is_null(gql, make_user) -> None:
    """Given a well-formed id of a type that does not exist, then null, no error."""
    ada = await make_user("ada")
    unknown = to_global_id("Spaceship", uuid.uuid4())

    body = await gql.query(NODES, {"ids": [unknown, ada.id]}, ada.token)

    assert "errors" not in body
    assert body["data"]["nodes"] == [None, {"__typename": "User", "id": ada.id}]
