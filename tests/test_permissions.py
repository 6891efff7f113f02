"""Every mutation declares who may call it, and anonymous callers are turned away."""

from __future__ import annotations

import uuid

import pytest
from graphql import build_schema, parse, validate

from synapse_gql.gql.permissions import AllowAnyone, IsAuthenticated
from synapse_gql.gql.relay import to_global_id
from synapse_gql.schema import schema
from tests.gql_client import SCHEMA_DIR, operation_documents
from tests.helpers import scalar, user_error

PUBLIC_MUTATIONS = {"register", "login"}


def mutation_fields() -> list:
    definition = schema.get_type_by_name("Mutation")
    assert definition is not None
    return list(definition.fields)


def test_every_mutation_declares_a_permission_class() -> None:
    """Given the schema, then no mutation field is left without a permission class."""
    missing = [f.python_name for f in mutation_fields() if not f.permission_classes]

    assert missing == []


def test_only_sign_up_and_login_are_public() -> None:
    """Given the schema, then only register and login allow anyone; the rest need a login."""
    public = {f.python_name for f in mutation_fields() if AllowAnyone in f.permission_classes}
    guarded = [
        f.python_name
        for f in mutation_fields()
        if f.python_name not in PUBLIC_MUTATIONS
        and not any(issubclass(p, IsAuthenticated) for p in f.permission_classes)
    ]

    assert public == PUBLIC_MUTATIONS
    assert guarded == []


# Root query fields without a permission class: each filters by the viewer itself and
# answers null to an anonymous caller (proved below). A new root field must either
# declare a permission class or be added here together with such a proof.
VIEWER_SCOPED_QUERIES = {"node", "nodes", "me", "workspace"}


def test_every_root_query_is_guarded_or_viewer_scoped() -> None:
    definition = schema.get_type_by_name("Query")
    assert definition is not None
    unguarded = {f.python_name for f in definition.fields if not f.permission_classes}

    assert unguarded == VIEWER_SCOPED_QUERIES


async def test_viewer_scoped_queries_answer_null_to_anonymous(
    gql, make_user, make_workspace
) -> None:
    owner = await make_user("owner")
    workspace = await make_workspace(owner)
    query = """query($id: ID!, $slug: String) {
      node(id: $id) { id } nodes(ids: [$id]) { id } me { id }
      workspace(id: $id, slug: $slug) { id }
    }"""

    body = await gql.query(query, {"id": workspace["id"], "slug": workspace["slug"]})

    assert "errors" not in body
    assert body["data"] == {"node": None, "nodes": [None], "me": None, "workspace": None}


def test_operation_documents_validate_against_the_schema() -> None:
    """Given the documents of schema/, then each validates against the server's schema."""
    server = build_schema(schema.as_str())

    failures = {
        name: [e.message for e in validate(server, parse(document))]
        for name, document in operation_documents().items()
    }

    assert {name: errors for name, errors in failures.items() if errors} == {}


def test_the_documents_of_schema_read_as_one_document() -> None:
    """Given every file of schema/ concatenated (as manifest and codegen tools load them),
    then the whole validates: no fragment or operation is defined twice."""
    server = build_schema(schema.as_str())
    whole = "\n".join(path.read_text() for path in sorted(SCHEMA_DIR.glob("*.graphql")))

    assert [e.message for e in validate(server, parse(whole))] == []


MISSING_WORKSPACE = to_global_id("Workspace", uuid.uuid4())
MISSING_LLM = to_global_id("LLM", uuid.uuid4())

NEW_LLM = {
    "provider": "acme",
    "modelId": "a1",
    "displayName": "A1",
    "inputPricePerMillion": "1",
    "outputPricePerMillion": "1",
    "contextWindow": 100,
    "maxOutputTokens": 10,
}

ANONYMOUS_CALLS = [
    ("CreateWorkspace", {"input": {"name": "Team"}}, "workspaces"),
    ("CreateApiToken", {"input": {"name": "ci"}}, "api_tokens"),
    ("CreateProject", {"input": {"workspaceId": MISSING_WORKSPACE, "name": "P"}}, "projects"),
    ("CreateLlm", {"input": NEW_LLM}, "llms"),
    ("DeactivateLlm", {"id": MISSING_LLM}, "llms"),
]


@pytest.mark.parametrize(("operation", "variables", "table"), ANONYMOUS_CALLS)
async def test_anonymous_mutation_is_unauthenticated(
    gql, db_engine, operation, variables, table
) -> None:
    """Given no token, when calling a mutation that needs a login, then UNAUTHENTICATED
    and nothing is written."""
    before = await scalar(db_engine, f"SELECT count(*) FROM {table}")

    data = await gql.op(operation, **variables)

    [payload] = data.values()
    user_error(payload, "UNAUTHENTICATED")
    assert await scalar(db_engine, f"SELECT count(*) FROM {table}") == before
