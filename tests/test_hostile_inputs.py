"""Text and numbers the database cannot store are refused for every argument of the schema
with ``INVALID_INPUT`` naming the argument, before anything runs; ids and page sizes at
their limits give typed errors, never an internal error."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest

from synapse_gql.schema import schema
from tests.conftest import Account
from tests.gql_client import GraphQLClient, operation_documents
from tests.helpers import error_codes, scalar
from tests.live import serve
from tests.ws_client import connect

NUL = "a\x00b"
SURROGATE = "a\ud800b"
# Over HTTP a lone surrogate is already refused with the body (400 BAD_REQUEST, see
# test_http_request); WebSockets and the schema itself are where the guard meets it.
HOSTILE = [pytest.param(NUL, id="nul")]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "sNaN", "-nan"]


async def post(gql: GraphQLClient, body: dict[str, Any], token: str | None) -> dict:
    """Post ``body`` as ASCII JSON (a lone surrogate travels as its ``\\ud800`` escape,
    as a browser's ``JSON.stringify`` sends it); the response body, a 200 asserted."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await gql.http.post("/graphql", content=json.dumps(body), headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def run(gql: GraphQLClient, name: str, token: str | None, **variables: Any) -> dict:
    """Run operation ``name`` of ``schema/``; the whole response body."""
    body = {"query": operation_documents()[name], "variables": variables, "operationName": name}
    return await post(gql, body, token)


def refused(body: dict, field: list[str]) -> str:
    """Assert ``body`` is one ``INVALID_INPUT`` error naming ``field`` and no data."""
    assert body.get("data") is None, body
    assert error_codes(body) == ["INVALID_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field, body
    return body["errors"][0]["message"]


async def llm_global_id(gql: GraphQLClient, token: str) -> str:
    data = await gql.op("Llms", token, provider="mock")
    return data["llms"]["edges"][0]["node"]["id"]


@pytest.fixture
async def owner(make_user) -> Account:
    return await make_user("owner")


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize("field", ["email", "name", "password"])
async def test_register_refuses_unstorable_text_by_field(gql, db_engine, bad, field) -> None:
    # Given registration input with one field holding NUL or a lone surrogate
    given = {"email": "new@example.com", "name": "New", "password": "long enough pass"}
    given[field] = bad
    # When registering, then the field is named and no user is created
    message = refused(await run(gql, "Register", None, input=given), ["input", field])
    assert "NUL" in message
    assert await scalar(db_engine, "SELECT count(*) FROM users") == 0


@pytest.mark.parametrize("bad", HOSTILE)
async def test_login_refuses_unstorable_password(gql, owner, bad) -> None:
    body = await run(gql, "Login", None, input={"email": owner.email, "password": bad})
    refused(body, ["input", "password"])


@pytest.mark.parametrize("bad", HOSTILE)
async def test_workspace_project_and_tag_names_refused(
    gql, db_engine, owner, make_workspace, bad
) -> None:
    workspace = await make_workspace(owner)
    body = await run(gql, "CreateWorkspace", owner.token, input={"name": bad})
    refused(body, ["input", "name"])
    project = {"workspaceId": workspace["id"], "name": "P", "description": bad}
    refused(await run(gql, "CreateProject", owner.token, input=project), ["input", "description"])
    tag = {"workspaceId": workspace["id"], "name": bad}
    refused(await run(gql, "CreateTag", owner.token, input=tag), ["input", "name"])
    assert await scalar(db_engine, "SELECT count(*) FROM workspaces") == 1
    assert await scalar(db_engine, "SELECT count(*) FROM projects") == 0
    assert await scalar(db_engine, "SELECT count(*) FROM tags") == 0


@pytest.mark.parametrize("bad", HOSTILE)
async def test_json_metadata_refused_in_nested_values_and_keys(
    gql, db_engine, owner, make_workspace, bad
) -> None:
    workspace = await make_workspace(owner)
    nested_value = {"workspaceId": workspace["id"], "metadata": {"a": [1, {"b": bad}]}}
    body = await run(gql, "CreateConversation", owner.token, input=nested_value)
    refused(body, ["input", "metadata", "a", "1", "b"])
    nested_key = {"workspaceId": workspace["id"], "metadata": {"a": {bad: 1}}}
    body = await run(gql, "CreateConversation", owner.token, input=nested_key)
    shown = bad.replace("\x00", "\\u0000")
    refused(body, ["input", "metadata", "a", shown])
    assert await scalar(db_engine, "SELECT count(*) FROM conversations") == 0


async def test_non_finite_json_number_refused_by_the_schema() -> None:
    # NaN cannot arrive over HTTP (the body is strict JSON) but the schema refuses it from
    # any transport: a JSON column cannot hold it
    query = "mutation($m: JSON!) { createConversation(input:"
    query += ' {workspaceId: "x", metadata: $m}) { __typename } }'
    result = await schema.execute(query, variable_values={"m": {"x": [1.5, float("nan")]}})
    assert result.data is None
    field = ["input", "metadata", "x", "1"]
    assert [error.extensions for error in result.errors or []] == [
        {"code": "INVALID_INPUT", "field": field, "path": field}
    ]


@pytest.mark.parametrize("bad", HOSTILE)
async def test_variables_and_search_filter_refused(gql, owner, make_workspace, bad) -> None:
    refused(
        await run(gql, "SetVariable", owner.token, input={"key": "K", "value": bad}),
        ["input", "value"],
    )
    refused(
        await run(gql, "SetVariable", owner.token, input={"key": bad, "value": "v"}),
        ["input", "key"],
    )
    workspace = await make_workspace(owner)
    given = {"workspaceId": workspace["id"], "filter": {"titleContains": bad}}
    body = await run(gql, "WorkspaceConversations", owner.token, **given)
    refused(body, ["filter", "titleContains"])


async def test_literal_argument_of_a_nested_field_refused(gql, owner, make_workspace) -> None:
    await make_workspace(owner)
    query = '{ workspaces { edges { node { tags(category: "x\\u0000") { edges { cursor } } } } } }'
    refused(await post(gql, {"query": query}, owner.token), ["category"])


async def test_default_value_of_a_variable_is_checked(gql, owner) -> None:
    query = 'query($c: String = "x\\u0000") { workspace(slug: $c) { id } }'
    refused(await post(gql, {"query": query}, owner.token), ["slug"])


@pytest.mark.parametrize("bad", HOSTILE)
async def test_message_content_refused_and_nothing_saved(
    gql, db_engine, owner, make_workspace, bad
) -> None:
    workspace = await make_workspace(owner)
    data = await gql.op("CreateConversation", owner.token, input={"workspaceId": workspace["id"]})
    given = {"conversationId": data["createConversation"]["id"], "content": bad}
    refused(await run(gql, "SendMessage", owner.token, input=given), ["input", "content"])
    assert await scalar(db_engine, "SELECT count(*) FROM messages") == 0


@pytest.mark.parametrize("temperature", NON_FINITE)
async def test_non_finite_decimal_refused(
    gql, db_engine, owner, make_workspace, temperature
) -> None:
    workspace = await make_workspace(owner)
    given = {
        "workspaceId": workspace["id"],
        "name": "A",
        "llmId": await llm_global_id(gql, owner.token),
        "temperature": temperature,
    }
    body = await run(gql, "CreateAgent", owner.token, input=given)
    assert body.get("data") is None, body
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body)
    message = body["errors"][0]["message"]
    assert "finite" in message or "magnitude" in message or "decimal" in message, message
    assert ".temperature" in message, message
    assert await scalar(db_engine, "SELECT count(*) FROM agents") == 0


@pytest.mark.parametrize("literal", ["1e999", '"1e-999"', '"1' + "0" * 60 + '"'])
async def test_absurd_decimal_literal_refused(gql, owner, literal) -> None:
    mutation = (
        f'mutation {{ createAgent(input: {{workspaceId: "x", name: "A", llmId: "x",'
        f" temperature: {literal}}}) {{ __typename }} }}"
    )
    body = await post(gql, {"query": mutation}, owner.token)
    assert body.get("data") is None, body
    assert error_codes(body) != ["INTERNAL_SERVER_ERROR"], body
    assert "Decimal" in body["errors"][0]["message"], body


def _garbage_ids() -> list[str]:
    b64 = base64.b64encode
    return [
        "",
        "x",
        "a\x00b",
        "====",
        b64(b"\xff\xfe\x00").decode(),
        b64(b"Workspace:not-a-uuid").decode(),
        b64(b"Workspace:").decode(),
        b64(b"NoSuchType:00000000-0000-0000-0000-000000000000").decode(),
        b64(b":" * 50).decode(),
        "é" * 10,
    ]


@pytest.mark.parametrize("bad_id", _garbage_ids())
async def test_garbage_global_ids_never_internal(gql, owner, bad_id) -> None:
    for name, variables in (
        ("Node", {"id": bad_id}),
        ("ArchiveProject", {"id": bad_id}),
        ("Projects", {"workspaceId": bad_id}),
    ):
        body = await run(gql, name, owner.token, **variables)
        assert "INTERNAL_SERVER_ERROR" not in error_codes(body), (name, body)


@pytest.mark.parametrize(
    ("first", "last", "code"),
    [
        (2147483647, None, "QUERY_TOO_COSTLY"),
        (2147483648, None, "QUERY_TOO_COSTLY"),
        (-1, None, "INVALID_INPUT"),
        (None, -1, "INVALID_INPUT"),
        (None, -2147483648, "INVALID_INPUT"),
        (101, None, "INVALID_INPUT"),
    ],
)
async def test_page_sizes_at_the_int_limits_are_typed_errors(gql, owner, first, last, code) -> None:
    body = await run(gql, "Workspaces", owner.token, first=first, last=last)
    assert error_codes(body) == [code], body


async def test_empty_page_is_no_error(gql, owner, make_workspace) -> None:
    await make_workspace(owner)
    body = await run(gql, "Workspaces", owner.token, first=0)
    assert "errors" not in body, body
    assert body["data"]["workspaces"]["edges"] == []


async def test_lone_surrogate_over_http_is_refused_with_the_body(gql, db_engine) -> None:
    body = {"query": operation_documents()["Register"], "operationName": "Register"}
    body["variables"] = {"input": {"email": "s@example.com", "name": SURROGATE, "password": "p"}}
    response = await gql.http.post(
        "/graphql", content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert error_codes(response.json()) == ["BAD_REQUEST"]
    assert await scalar(db_engine, "SELECT count(*) FROM users") == 0


@pytest.mark.parametrize(
    ("name", "variables", "field"),
    [
        (
            "Register",
            {"input": {"email": "e@x.io", "name": SURROGATE, "password": "p"}},
            ["input", "name"],
        ),
        ("CreateWorkspace", {"input": {"name": SURROGATE}}, ["input", "name"]),
        ("SetVariable", {"input": {"key": "K", "value": SURROGATE}}, ["input", "value"]),
        (
            "CreateConversation",
            {"input": {"workspaceId": "x", "metadata": {"k": [SURROGATE]}}},
            ["input", "metadata", "k", "0"],
        ),
        ("Node", {"id": SURROGATE}, ["id"]),
    ],
)
async def test_lone_surrogates_refused_by_the_schema_itself(name, variables, field) -> None:
    # Given a transport that decodes lone surrogates (stdlib JSON), the schema refuses them
    # before any resolver runs: no context is even needed
    result = await schema.execute(
        operation_documents()[name], variable_values=variables, operation_name=name
    )
    assert result.data is None
    assert [error.extensions for error in result.errors or []] == [
        {"code": "INVALID_INPUT", "field": field, "path": field}
    ]


async def test_subscription_argument_refused_over_websocket(app, owner) -> None:
    async with serve(app) as address, connect(f"ws://{address}/graphql", owner.token) as socket:
        operation = await socket.start("MessageStream", messageId=NUL)
        payload = await asyncio.wait_for(socket._queues[operation.id].get(), 10)
    assert payload is not None
    errors = payload["errors"]
    assert [error["extensions"]["code"] for error in errors] == ["INVALID_INPUT"], errors
    assert errors[0]["extensions"]["field"] == ["messageId"]


def _cursor(sort_value: Any, row_id: Any = "00000000-0000-0000-0000-000000000001") -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_value, row_id]).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor(1, 2),
        _cursor("not a time"),
        _cursor(True),
        _cursor({"t": "9999-12-31T23:59:59-14:00"}),
        _cursor({"t": "0001-01-01T00:00:00+14:00"}),
        _cursor({"d": "NaN"}),
        _cursor({"d": [1]}),
        _cursor({"u": "x"}),
        _cursor({"x": 1}),
        _cursor(None, None),
    ],
)
@pytest.mark.parametrize("direction", ["after", "before"])
async def test_cursors_that_do_not_fit_the_sort_column_are_typed_errors(
    gql, owner, make_workspace, cursor, direction
) -> None:
    # Given cursors a client forged: well-formed base64 JSON of the wrong shape or type
    await make_workspace(owner)
    # When paging with them, then each is an INVALID_INPUT on the cursor argument
    body = await run(gql, "Workspaces", owner.token, first=5, **{direction: cursor})
    assert error_codes(body) == ["INVALID_INPUT"], body
    assert body["errors"][0]["extensions"]["path"] == [direction], body


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
async def test_datetimes_beyond_years_1_to_9999_in_utc_are_refused(
    gql, owner, make_workspace, instant
) -> None:
    workspace = await make_workspace(owner)
    given = {"workspaceId": workspace["id"], "filter": {"createdAfter": instant}}
    body = await run(gql, "WorkspaceConversations", owner.token, **given)
    assert body.get("data") is None, body
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body), body
    assert "between years 1 and 9999" in body["errors"][0]["message"], body


@pytest.mark.parametrize(
    ("name", "variables", "where"),
    [
        (
            "RateMessage",
            {"input": {"messageId": "x", "ratingType": "STARS", "value": "NaN"}},
            ".value",
        ),
        (
            "RateMessage",
            {
                "input": {
                    "messageId": "x",
                    "ratingType": "CUSTOM",
                    "value": "1",
                    "scaleMax": "Infinity",
                }
            },
            ".scaleMax",
        ),
        (
            "SendMessage",
            {"input": {"conversationId": "x", "content": "hi", "topP": "-1e999"}},
            ".topP",
        ),
    ],
)
async def test_non_finite_decimals_refused_before_anything_runs(name, variables, where) -> None:
    # The scalar refuses them while coercing variables: no resolver (nor context) is reached
    result = await schema.execute(
        operation_documents()[name], variable_values=variables, operation_name=name
    )
    assert result.data is None
    messages = [error.message for error in result.errors or []]
    assert len(messages) == 1, messages
    assert where in messages[0], messages
    assert "finite" in messages[0] or "magnitude" in messages[0], messages
