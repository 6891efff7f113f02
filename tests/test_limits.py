"""Query cost (reported in extensions and enforced) and the request size limit."""

from __future__ import annotations

import uuid

import pytest

from tests.helpers import client_with, error_codes

WORKSPACES = """
query Costly($n: Int) {
  workspaces(first: $n) { edges { node { id ...Names } } }
}
fragment Names on Workspace { name slug }
"""


async def test_simple_query_reports_its_cost(gql, make_user) -> None:
    user = await make_user()
    body = await gql.query("{ me { id email } }", token=user.token)
    # me (1) + id (1) + email (1)
    assert body["extensions"]["cost"] == {"requestedQueryCost": 3, "maximumAvailable": 50_000}


async def test_connection_multiplies_by_page_size_from_variables(gql, make_user) -> None:
    user = await make_user()
    body = await gql.query(WORKSPACES, {"n": 5}, user.token)
    # workspaces 1 + 5 x (edges 1 + node 1 + id 1 + name 1 + slug 1)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 5 * 5
    assert "errors" not in body


async def test_default_page_size_applies_without_first(gql, make_user) -> None:
    user = await make_user()
    body = await gql.query("{ workspaces { totalCount } }", token=user.token)
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 20 * 1


async def test_nested_connections_multiply(gql, make_user) -> None:
    user = await make_user()
    members = "members(first: 50) { edges { node { id } } }"
    query = f"{{ workspaces(first: 10) {{ edges {{ node {{ {members} }} }} }} }}"
    body = await gql.query(query, token=user.token)
    inner = 1 + 50 * (1 + 1 + 1)  # members: edges, node, id per item
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 10 * (1 + 1 + inner)


async def test_query_over_the_maximum_is_refused_before_running(settings, make_user) -> None:
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


async def test_oversized_body_gets_413(settings) -> None:
    async with client_with(settings, max_request_bytes=2048) as client:
        response = await client.raw("{ me { id } }", {"padding": "x" * 4096})
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_malformed_json_body_is_a_400_not_a_500(http) -> None:
    response = await http.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


NODES = "query Many($ids: [ID!]!) { nodes(ids: $ids) { id } }"
MEMBERS_OF_NODES = """
query Members($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Workspace { members(first: 100) { edges { node { id } } } } }
}
"""


async def test_nodes_costs_its_selection_once_per_id(gql, make_user) -> None:
    user = await make_user()
    literal = f'{{ nodes(ids: ["{user.id}", "{user.id}", "{user.id}"]) {{ id }} }}'

    from_literal = await gql.query(literal, token=user.token)
    from_variable = await gql.query(NODES, {"ids": [user.id] * 5}, user.token)

    # nodes 1 + ids x (id 1)
    assert from_literal["extensions"]["cost"]["requestedQueryCost"] == 1 + 3 * 1
    assert from_variable["extensions"]["cost"]["requestedQueryCost"] == 1 + 5 * 1
    assert from_variable["data"]["nodes"] == [{"id": user.id}] * 5


async def test_one_readable_id_repeated_thousands_of_times_is_refused(
    gql, make_user, make_workspace, sql_log
) -> None:
    """Given one readable workspace id 4000 times with 100 members each, when asked, then
    the cost counts every id and the query is refused before any statement runs."""
    user = await make_user()
    workspace = await make_workspace(user)

    with sql_log() as log:
        body = await gql.query(MEMBERS_OF_NODES, {"ids": [workspace["id"]] * 4000}, user.token)

    assert body["data"] is None
    assert error_codes(body) == ["QUERY_TOO_COSTLY"]
    # nodes 1 + 4000 x (members 1 + 100 x (edges 1 + node 1 + id 1))
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1 + 4000 * (1 + 100 * 3)
    assert [s for s in log.statements if "workspace_members" in s or "workspaces" in s] == []


def spread_fragments(levels: int, spreads: int, body: str) -> str:
    """``me { ...F0 }``, ``F<i>`` holding ``body`` and ``spreads`` spreads of ``F<i+1>``."""
    lines = ["query Spread { me { ...F0 } }"]
    for level in range(levels):
        inner = " ".join([f"...F{level + 1}"] * spreads)
        lines.append(f"fragment F{level} on User {{ {body} {inner} }}")
    lines.append(f"fragment F{levels} on User {{ {body} }}")
    return "\n".join(lines)


async def test_fragment_spread_many_times_is_costed_per_spread(gql, make_user) -> None:
    user = await make_user()

    body = await gql.query(spread_fragments(2, 2, "id"), token=user.token)

    # F2 = 1; F1 = 1 + 2 x F2 = 3; F0 = 1 + 2 x F1 = 7; me = 1 + F0
    assert body["extensions"]["cost"]["requestedQueryCost"] == 8
    assert body["data"]["me"]["id"] == user.id


@pytest.mark.parametrize(("spreads", "refused"), [(3, False), (4, True)])
async def test_aliases_in_fragments_count_once_per_spread(gql, make_user, spreads, refused) -> None:
    """Given 8 aliases in a fragment spread 3 (24) or 4 (32) times, limit 30."""
    user = await make_user()
    aliases = " ".join(f"a{i}: id" for i in range(8))
    query = "{ me { " + " ".join(["...Eight"] * spreads) + " } }"
    query += f" fragment Eight on User {{ {aliases} }}"

    body = await gql.query(query, token=user.token)

    if refused:
        assert error_codes(body) == ["TOO_MANY_ALIASES"]
        assert body["errors"][0]["message"] == "32 aliases found. Allowed: 30"
    else:
        assert body["data"]["me"]["a7"] == user.id


def deep_fragment_chain(levels: int) -> str:
    """Each fragment adds 3 levels (projects, nodes, workspace) below ``workspaces.nodes``."""
    lines = ["query Chain { workspaces(first: 1) { nodes { ...W0 } } }"]
    for level in range(levels):
        lines.append(
            f"fragment W{level} on Workspace {{ id projects(first: 1) {{ nodes {{ workspace "
            f"{{ ...W{level + 1} ...W{level + 1} }} }} }} }}"
        )
    lines.append(f"fragment W{levels} on Workspace {{ id }}")
    return "\n".join(lines)


@pytest.mark.parametrize(("levels", "refused"), [(3, False), (4, True)])
async def test_depth_counts_through_fragments(gql, make_user, levels, refused) -> None:
    """Depth 2 + 3 per fragment level: 11 passes (limit 12), 14 is refused."""
    user = await make_user()

    body = await gql.query(deep_fragment_chain(levels), token=user.token)

    if refused:
        assert error_codes(body) == ["QUERY_TOO_DEEP"]
        assert "exceeds maximum operation depth of 12" in body["errors"][0]["message"]
    else:
        assert "errors" not in body, body["errors"]


@pytest.mark.parametrize(("field", "validations"), [("id", 1), ("nope", 3)])
async def test_a_valid_document_is_validated_once_an_invalid_one_every_time(
    gql, make_user, monkeypatch, field, validations
) -> None:
    """Given the same document three times, when run, then a valid one is validated once
    (its text is remembered) and an invalid one each time (never remembered)."""
    import strawberry.schema.schema as strawberry_schema

    seen = []
    original = strawberry_schema.validate

    def counting_validate(*args, **kwargs):
        seen.append(args[1])
        return original(*args, **kwargs)

    user = await make_user()
    monkeypatch.setattr(strawberry_schema, "validate", counting_validate)
    query = f"{{ unique_{uuid.uuid4().hex}: me {{ {field} }} }}"

    bodies = [await gql.query(query, token=user.token) for _ in range(3)]

    expected = [] if field == "id" else ["VALIDATION_FAILED"]
    assert [error_codes(body) for body in bodies] == [expected] * 3
    assert len(seen) == validations


def test_apps_with_the_same_limits_share_one_schema_and_others_get_their_own(settings) -> None:
    from synapse_gql.schema import build_schema

    same = settings.model_copy(update={"graphiql": not settings.graphiql})
    stricter = settings.model_copy(update={"max_query_cost": 100})
    assert build_schema(same) is build_schema(settings)
    assert build_schema(stricter) is not build_schema(settings)
