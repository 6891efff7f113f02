"""Query cost (reported in extensions and enforced) and the request size limit."""

from __future__ import annotations

from tests.helpers import client_with, error_codes

WORKSPACES = """
query Costly($n: Int) {
  workspaces(first: $n) { edges { node { id ...Names } } }
}
fragment Names on Workspace { name slug }
"""


async def test_simple_query_reports_its_cost(gql, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    body = await gql.query("{ me { id email } }", token=user.token)
    # me (1) + id (1) + email (1)
    assert body["extensions"]["cost"] == {"requestedQueryCost": 3, "maximumAvailable": 50_000}


async def test_connection_multiplies_by_page_size_from_variables(gql, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    body = await gql.query(WORKSPACES, {"n": 5}, user.token)
    # workspaces 1 + 5 x (edges 1 + node 1 + id 1 + name 1 + slug 1)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 5 * 5
    assert "errors" not in body


async def test_default_page_size_applies_without_first(gql, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    body = await gql.query("{ workspaces { totalCount } }", token=user.token)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 20 * 1


async def test_nested_connections_multiply(gql, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user()
    members = "members(first: 50) { edges { node { id } } }"
    query = f"{{ workspaces(first: 10) {{ edges {{ node {{ {members} }} }} }} }}"
    body = await gql.query(query, token=user.token)
    inner = 1 + 50 * (1 + 1 + 1)  # members: edges, node, id per item
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 10 * (1 + 1 + inner)


async def test_query_over_the_maximum_is_refused_before_running(settings, make_user) -> None:  # type: ignore[no-untyped-def]
    async with client_with(settings, max_query_cost=100) as client:
        data = await client.op(
            "Register", input={"email": "c@x.io", "name": "C", "password": "p" * 10}
        )
        token = data["register"]["accessToken"]
        body = await client.query(WORKSPACES, {"n": 50}, token)
    assert body["data"] is None
    assert error_codes(body) == ["QUERY_TOO_COSTLY"]
    assert "251" in body["errors"][0]["message"]
    assert body["extensions"]["cost"] == {"requestedQueryCost": 251, "maximumAvailable": 100}


async def test_oversized_body_gets_413(settings) -> None:  # type: ignore[no-untyped-def]
    async with client_with(settings, max_request_bytes=2048) as client:
        response = await client.raw("{ me { id } }", {"padding": "x" * 4096})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_malformed_json_body_is_a_400_not_a_500(http) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
