"""The standard introspection query (graphql-js `getIntrospectionQuery()` with every option,
as GraphiQL, Apollo and code generators send it) answers over HTTP without an error, and
the schema it describes prints the same as the committed `schema.graphql`."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    build_client_schema,
    build_schema,
    get_introspection_query,
    print_schema,
)
from graphql.utilities import lexicographic_sort_schema

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema.graphql"
FULL_QUERY = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)


async def test_the_full_introspection_query_has_no_errors(gql, make_user) -> None:
    body = await gql.query(FULL_QUERY)
    assert "errors" not in body, body["errors"]
    types = {t["name"]: t for t in body["data"]["__schema"]["types"]}
    fields = {f["name"]: f for f in types["CreateConversationInput"]["inputFields"]}
    # A JSON default of {} is printed as a GraphQL object literal (graphql-core 3.2 could
    # not print a dict default and failed the whole query).
    assert fields["metadata"]["defaultValue"].replace(" ", "") == "{}"
    # The same answer for a signed-in client.
    user = await make_user("introspector")
    signed_in = await gql.query(FULL_QUERY, token=user.token)
    assert "errors" not in signed_in, signed_in["errors"]
    assert signed_in["data"] == body["data"]


async def test_the_introspected_schema_prints_as_schema_graphql(gql) -> None:
    body = await gql.query(FULL_QUERY)
    assert "errors" not in body, body["errors"]
    introspected = lexicographic_sort_schema(build_client_schema(body["data"]))
    committed = lexicographic_sort_schema(build_schema(SCHEMA_FILE.read_text()))
    assert print_schema(introspected) == print_schema(committed)
