"""Hostile request bodies and documents: each gets a 400 or a typed GraphQL error, nothing
runs, and the server goes on answering."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from synapse_gql.gql.relay import to_global_id
from tests.helpers import error_codes

HEALTH_PROBES = 3


def nested_fragments(levels: int, spreads: int, on: str = "User", body: str = "id") -> str:
    """``F<i>`` spreads ``F<i+1>`` ``spreads`` times: tiny, but ``spreads ** levels`` big
    once expanded. ``body`` may hold ``{next}`` where the spreads go (else after it)."""
    root = {"User": "me", "Workspace": "workspaces { nodes"}[on]
    closing = "}" * root.count("{")
    lines = [f"query Nested {{ {root} {{ ...F0 }} {closing} }}"]
    for level in range(levels):
        spread = " ".join([f"...F{level + 1}"] * spreads)
        inner = body.replace("{next}", spread) if "{next}" in body else f"{body} {spread}"
        lines.append(f"fragment F{level} on {on} {{ {inner} }}")
    lines.append(f"fragment F{levels} on {on} {{ id }}")
    return "\n".join(lines)


def nested_value(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_variables(depth: int) -> bytes:
    """A request whose variable ``v`` is nested ``depth`` objects deep (written by hand:
    encoders refuse such depths too)."""
    value = '{"a":' * depth + "1" + "}" * depth
    return f'{{"query": "{{ me {{ id }} }}", "variables": {{"v": {value}}}}}'.encode()


def ids(count: int) -> list[str]:
    return [to_global_id("User", uuid.uuid4()) for _ in range(count)]


def id_literal(count: int) -> str:
    return "[" + ", ".join(json.dumps(i) for i in ids(count)) + "]"


async def answered_health_probes(http) -> int:
    answered = 0
    for _ in range(HEALTH_PROBES):
        response = await http.get("/health")
        answered += response.status_code == 200 and response.json()["status"] == "ok"
    return answered


JSON = {"content-type": "application/json"}
VALID = "{ me { id } }"

NOT_AN_OBJECT = "a JSON object with a `query` string"
NOT_JSON = "Unable to parse request body as JSON"
QUERY_NOT_STRING = "`query` must be a string"

# (case, method, request keyword arguments, part of the error message)
BAD_BODIES: list[tuple[str, str, dict[str, Any], str]] = [
    ("null", "POST", {"content": b"null"}, NOT_AN_OBJECT),
    ("string", "POST", {"content": b'"hello"'}, NOT_AN_OBJECT),
    ("number", "POST", {"content": b"42"}, NOT_AN_OBJECT),
    ("boolean", "POST", {"content": b"true"}, NOT_AN_OBJECT),
    ("empty list", "POST", {"content": b"[]"}, NOT_AN_OBJECT),
    (
        "list of requests",
        "POST",
        {"content": json.dumps([{"query": VALID}]).encode()},
        NOT_AN_OBJECT,
    ),
    ("invalid utf-8", "POST", {"content": b'{"query": "\xff\xfe"}'}, NOT_JSON),
    ("not json", "POST", {"content": b"{not json"}, NOT_JSON),
    ("json 100000 deep", "POST", {"content": b"[" * 100_000 + b"]" * 100_000}, NOT_JSON),
    ("variable 5000 deep", "POST", {"content": deep_variables(5000)}, NOT_JSON),
    (
        "variable 100 deep",
        "POST",
        {"json": {"query": VALID, "variables": nested_value(100)}},
        "`variables` is nested more than 64 levels deep",
    ),
    (
        "extensions 100 deep",
        "POST",
        {"json": {"query": VALID, "extensions": nested_value(100)}},
        "`extensions` is nested more than 64 levels deep",
    ),
    ("no query", "POST", {"json": {"variables": {}}}, QUERY_NOT_STRING),
    ("query not a string", "POST", {"json": {"query": 42}}, QUERY_NOT_STRING),
    ("query a list", "POST", {"json": {"query": [VALID]}}, QUERY_NOT_STRING),
    (
        "variables a list",
        "POST",
        {"json": {"query": VALID, "variables": [1]}},
        "`variables` must be a JSON object",
    ),
    (
        "variables a string",
        "POST",
        {"json": {"query": VALID, "variables": "{}"}},
        "`variables` must be a JSON object",
    ),
    (
        "extensions not an object",
        "POST",
        {"json": {"query": VALID, "extensions": 5}},
        "`extensions` must be a JSON object",
    ),
    (
        "operationName not a string",
        "POST",
        {"json": {"query": VALID, "operationName": 5}},
        "`operationName` must be a string",
    ),
    (
        "unknown operationName",
        "POST",
        {"json": {"query": VALID, "operationName": "Nope"}},
        'Unknown operation named "Nope"',
    ),
    (
        "text body",
        "POST",
        {"content": VALID.encode(), "headers": {"content-type": "text/plain"}},
        "application/json",
    ),
    (
        "GET bad variables json",
        "GET",
        {"params": {"query": VALID, "variables": "{nope"}},
        NOT_JSON,
    ),
    (
        "GET variables a list",
        "GET",
        {"params": {"query": VALID, "variables": "[1]"}},
        "`variables` must be a JSON object",
    ),
    (
        "GET extensions not an object",
        "GET",
        {"params": {"query": VALID, "extensions": "7"}},
        "`extensions` must be a JSON object",
    ),
    (
        "GET variables too deep",
        "GET",
        {"params": {"query": VALID, "variables": "[" * 2000}},
        NOT_JSON,
    ),
    (
        "GET mutation",
        "GET",
        {"params": {"query": "mutation { __typename }"}},
        "mutations are not allowed when using GET",
    ),
]


@pytest.mark.parametrize(
    ("case", "method", "request_args", "message"), BAD_BODIES, ids=[c[0] for c in BAD_BODIES]
)
async def test_a_body_that_is_not_a_graphql_request_is_a_400(
    http, case, method, request_args, message
) -> None:
    """Given a body or query string that is not a GraphQL request, when sent, then a 400 with
    a GraphQL-shaped error saying what is wrong, and /health still answers."""
    request_args = {"headers": JSON, **request_args}

    response = await http.request(method, "/graphql", **request_args)

    assert response.status_code == 400, (case, response.text)
    [error] = response.json()["errors"]
    assert message in error["message"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert await answered_health_probes(http) == HEALTH_PROBES


# (case, document, code of the refusal)
BAD_DOCUMENTS: list[tuple[str, str, str]] = [
    ("fragments 10 levels x 4 spreads", nested_fragments(10, 4), "QUERY_TOO_COSTLY"),
    ("fragments 20 levels x 20 spreads", nested_fragments(20, 20), "QUERY_TOO_COSTLY"),
    (
        "deep through fragments, 4 spreads",
        nested_fragments(
            10, 4, on="Workspace", body="id projects { nodes { workspace { {next} } } }"
        ),
        "QUERY_TOO_DEEP",
    ),
    (
        "aliases through fragments, 4 spreads",
        nested_fragments(12, 4, body="a: id b: name"),
        "TOO_MANY_ALIASES",
    ),
    (
        "deep selection without fragments",
        "{ workspaces { nodes { "
        + "projects { nodes { workspace { " * 5
        + "id"
        + " } } }" * 5
        + " } } }",
        "QUERY_TOO_DEEP",
    ),
    (
        "selection nested 300 deep",
        "{" + " me {" * 300 + " id" + " }" * 300 + " }",
        "QUERY_TOO_DEEP",
    ),
    (
        "alias bomb",
        "{ " + " ".join(f"a{i}: __typename" for i in range(500)) + " }",
        "TOO_MANY_ALIASES",
    ),
    (
        "directive repeated 1000 times",
        "{ me" + " @include(if: true)" * 1000 + " { id } }",
        "TOO_MANY_TOKENS",
    ),
    (
        "directive repeated 400 times",
        "{ me" + " @include(if: true)" * 400 + " { id } }",
        "VALIDATION_FAILED",
    ),
    ("field name 100000 long", "{ " + "f" * 100_000 + " }", "VALIDATION_FAILED"),
    (
        "1000 operations",
        " ".join(f"query Q{i} {{ __typename }}" for i in range(1000)),
        "TOO_MANY_TOKENS",
    ),
    (
        "300 operations, none named in operationName",
        " ".join(f"query Q{i} {{ __typename }}" for i in range(300)),
        "BAD_REQUEST",
    ),
    ("two operations, none named", "query A { me { id } } query B { me { email } }", "BAD_REQUEST"),
    (
        "fragment cycle",
        "{ me { ...A } } fragment A on User { id ...B } fragment B on User { ...A }",
        "VALIDATION_FAILED",
    ),
    ("unknown fragment", "{ me { ...Nope } }", "VALIDATION_FAILED"),
    ("10000 tokens", "{ me { " + "id " * 10_000 + "} }", "TOO_MANY_TOKENS"),
    ("syntax error", "{ me { id ", "PARSE_FAILED"),
    (
        "nodes with 200 ids and large pages",
        "{ nodes(ids: " + id_literal(200) + ") { ... on Workspace { members(first: 100) "
        "{ edges { node { id } } } } } }",
        "QUERY_TOO_COSTLY",
    ),
]


@pytest.mark.parametrize(
    ("case", "query", "code"), BAD_DOCUMENTS, ids=[c[0] for c in BAD_DOCUMENTS]
)
async def test_a_hostile_document_is_refused_with_a_code(http, case, query, code) -> None:
    """Given a document over a limit or invalid, when posted, then no data and one typed
    error, and /health still answers."""
    response = await http.post("/graphql", json={"query": query})

    assert response.status_code == 200, (case, response.text)
    body = response.json()
    assert body["data"] is None
    assert code in error_codes(body), body["errors"][:3]
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body)
    assert await answered_health_probes(http) == HEALTH_PROBES


async def test_named_operation_of_several_runs_only_that_one(gql, make_user) -> None:
    """Given two operations, when one is named, then only it runs (the limits still apply)."""
    user = await make_user("ada")

    response = await gql.raw(
        "query A { me { id } } query B { me { email } }", token=user.token, operation="B"
    )

    assert response.json()["data"] == {"me": {"email": user.email}}


async def test_nodes_refuses_more_ids_than_the_maximum(gql, make_user) -> None:
    """Given 101 ids (maximum 100), when asked, then an INVALID_INPUT error on `ids`."""
    user = await make_user("ada")

    body = await gql.query(
        "query Many($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids(101)}, user.token
    )

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert error["extensions"]["path"] == ["ids"]
    assert "100" in error["message"]


async def test_nodes_up_to_the_maximum_resolve(gql, make_user) -> None:
    """Given 100 ids, one of them the viewer's own, when asked, then 100 results in order."""
    user = await make_user("ada")
    wanted = [*ids(99), user.id]

    body = await gql.query(
        "query Many($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": wanted}, user.token
    )

    assert "errors" not in body, body["errors"]
    assert body["data"]["nodes"][:99] == [None] * 99
    assert body["data"]["nodes"][99] == {"id": user.id}


CONVERSATION_EVENTS = (
    'subscription Events { conversationEvents(conversationId: "x") { __typename ...E0 } }\n'
    + "\n".join(
        f"fragment E{level} on ConversationEvent {{ __typename "
        + " ".join([f"...E{level + 1}"] * 20)
        + " }"
        for level in range(20)
    )
    + "\nfragment E20 on ConversationEvent { __typename }"
)

# (case, document, code of the refusal) sent over graphql-transport-ws
SOCKET_DOCUMENTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("fragments 20 levels x 20 spreads", nested_fragments(20, 20), "QUERY_TOO_COSTLY", {}),
    (
        "subscription, fragments 20 levels x 20 spreads",
        CONVERSATION_EVENTS,
        "QUERY_TOO_COSTLY",
        {},
    ),
    (
        "deep through fragments, 4 spreads",
        nested_fragments(
            10, 4, on="Workspace", body="id projects { nodes { workspace { {next} } } }"
        ),
        "QUERY_TOO_DEEP",
        {},
    ),
    (
        "aliases through fragments",
        nested_fragments(12, 4, body="a: id b: name"),
        "TOO_MANY_ALIASES",
        {},
    ),
    (
        "two operations, none named",
        "query A { me { id } } query B { me { email } }",
        "BAD_REQUEST",
        {},
    ),
    ("variable 100 deep", VALID, "BAD_REQUEST", {"v": nested_value(100)}),
]


@pytest.fixture
async def ws_url(app):
    from tests.live import serve

    async with serve(app) as address:
        yield f"ws://{address}/graphql"


async def _socket_result(ws, op_id: str) -> list[dict]:
    """The errors the server sent for ``op_id`` (as ``error`` or in a ``next`` payload)."""
    while True:
        message = json.loads(await ws.recv())
        if message.get("id") != op_id:
            continue
        if message["type"] == "error":
            return message["payload"]
        if message["type"] == "next":
            return message["payload"].get("errors") or []
        return []


@pytest.mark.parametrize(
    ("case", "query", "code", "variables"), SOCKET_DOCUMENTS, ids=[c[0] for c in SOCKET_DOCUMENTS]
)
async def test_a_hostile_document_over_a_websocket_meets_the_same_limits(
    ws_url, make_user, case, query, code, variables
) -> None:
    """Given a document over a limit, when sent over graphql-transport-ws, then the same
    typed refusal, and the same socket still answers a plain query."""
    import websockets

    user = await make_user("socket")
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {user.token}"}}
        await ws.send(json.dumps(init))
        assert json.loads(await ws.recv())["type"] == "connection_ack"

        payload = {"query": query, "variables": variables}
        await ws.send(json.dumps({"id": "bad", "type": "subscribe", "payload": payload}))
        errors = await _socket_result(ws, "bad")
        await ws.send(json.dumps({"id": "ok", "type": "subscribe", "payload": {"query": VALID}}))
        follow_up = json.loads(await ws.recv())
        while follow_up.get("id") != "ok":
            follow_up = json.loads(await ws.recv())

    assert code in [(e.get("extensions") or {}).get("code") for e in errors], (case, errors)
    assert follow_up["type"] == "next"
    assert follow_up["payload"]["data"] == {"me": {"id": user.id}}
