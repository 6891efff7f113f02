"""Automatic persisted queries as Apollo Client sends them, trusted documents, and the
manifest of ``schema/`` written by ``synapse-gql documents export``."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from synapse_gql.app import create_app
from synapse_gql.cli import main
from synapse_gql.config import Settings
from synapse_gql.errors import ConfigurationError
from synapse_gql.operations.persisted import document_hash
from tests.gql_client import SCHEMA_DIR, operation_documents
from tests.helpers import make_admin, scalar

PING = "query Ping { __typename }"


@asynccontextmanager
async def serve(settings: Settings, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update=changes))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def persisted(sha256: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


async def post(
    http: httpx.AsyncClient,
    query: str | None,
    sha256: str | None = None,
    token: str | None = None,
    **variables: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"variables": variables}
    if query is not None:
        body["query"] = query
    if sha256 is not None:
        body["extensions"] = persisted(sha256)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.post("/graphql", json=body, headers=headers)


async def get(http: httpx.AsyncClient, sha256: str) -> httpx.Response:
    params = {"extensions": json.dumps(persisted(sha256)), "operationName": "Ping"}
    # What Apollo Client sends (a browser's `text/html` would get GraphiQL).
    accept = "application/graphql-response+json,application/json;q=0.9"
    return await http.get("/graphql", params=params, headers={"Accept": accept})


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    assert response.headers["Cache-Control"] == "private, no-cache, must-revalidate"


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_apollo_flow_hash_unknown_then_registered_then_by_hash_over_post_and_get(
    settings, redis_url, backend
) -> None:
    query = PING + f" # {uuid.uuid4()}"  # a hash nothing registered before
    sha256 = document_hash(query)
    redis = redis_url if backend == "redis" else None
    async with serve(settings, redis_url=redis) as http:
        unknown = await post(http, None, sha256)
        unknown_get = await get(http, sha256)
        registered = await post(http, query, sha256)
        by_hash = await post(http, None, sha256)
        by_get = await get(http, sha256)

    assert_not_found(unknown)
    assert_not_found(unknown_get)
    for response in (registered, by_hash, by_get):
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"__typename": "Query"}


async def test_registered_documents_are_shared_through_redis(settings, redis_url) -> None:
    query = PING + f" # {uuid.uuid4()}"
    sha256 = document_hash(query)
    async with serve(settings, redis_url=redis_url) as first:
        await post(first, query, sha256)
    async with serve(settings, redis_url=redis_url) as second:
        response = await post(second, None, sha256)

    assert response.json()["data"] == {"__typename": "Query"}


async def test_a_hash_that_is_not_the_querys_is_refused_and_not_registered(settings) -> None:
    wrong = document_hash("query Other { __typename }")
    async with serve(settings) as http:
        refused = await post(http, PING, wrong)
        afterwards = await post(http, None, wrong)
        malformed = await post(http, PING, "not-a-hash")

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"
    assert_not_found(afterwards)
    assert malformed.status_code == 400
    assert malformed.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_HASH_MISMATCH"


def write_manifest(tmp_path: Path) -> Path:
    target = tmp_path / "manifest.json"
    assert main(["documents", "export", "--output", str(target)]) == 0
    return target


async def test_trusted_only_runs_manifest_documents_and_refuses_others(
    settings, tmp_path, db_engine, make_user
) -> None:
    manifest = write_manifest(tmp_path)
    register = operation_documents()["Register"]
    given = {"input": {"email": "a@example.com", "name": "A", "password": "correct horse battery"}}
    unknown = register.replace("mutation Register", "mutation SignUp", 1)
    adhoc = PING + " # not in the manifest"
    async with serve(settings, trusted_documents="only", trusted_documents_file=manifest) as http:
        refused = await post(http, unknown, **given)
        not_registered = await post(http, adhoc, document_hash(adhoc))
        by_id = await post(http, None, document_hash(register), **given)
        by_text = await post(
            http, register, None, input={**given["input"], "email": "b@example.com"}
        )

    assert refused.json()["data"] is None
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert not_registered.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert by_id.json()["data"]["register"]["__typename"] == "AuthPayload"
    assert by_text.json()["data"]["register"]["__typename"] == "AuthPayload"
    emails = await scalar(db_engine, "SELECT array_agg(email ORDER BY email) FROM users")
    assert emails == ["a@example.com", "b@example.com"]


async def test_trusted_only_lets_platform_admins_through_when_configured(
    settings, tmp_path, make_user, db_engine
) -> None:
    manifest = write_manifest(tmp_path)
    admin, user = await make_user("admin"), await make_user("user")
    await make_admin(db_engine, admin.email)
    changes = {
        "trusted_documents": "only",
        "trusted_documents_file": manifest,
        "trusted_documents_exempt_admins": True,
    }
    async with serve(settings, **changes) as http:
        by_admin = await post(http, PING, token=admin.token)
        by_user = await post(http, PING, token=user.token)

    assert by_admin.json()["data"] == {"__typename": "Query"}
    assert by_user.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"


async def test_trusted_log_runs_unknown_documents_and_logs_them(settings, tmp_path, caplog) -> None:
    manifest = write_manifest(tmp_path)
    with caplog.at_level(logging.WARNING, logger="synapse_gql.operations.guard"):
        async with serve(
            settings, trusted_documents="log", trusted_documents_file=manifest
        ) as http:
            response = await post(http, PING)

    assert response.json()["data"] == {"__typename": "Query"}
    logged = [r.getMessage() for r in caplog.records if r.name == "synapse_gql.operations.guard"]
    assert logged == [f"untrusted document {document_hash(PING)} (Ping)"]


def test_trusted_documents_without_a_manifest_refuse_to_start(settings) -> None:
    with pytest.raises(ConfigurationError, match="SYNAPSE_TRUSTED_DOCUMENTS_FILE"):
        create_app(settings.model_copy(update={"trusted_documents": "only"}))


def test_export_covers_every_operation_of_schema_with_its_fragments(tmp_path) -> None:
    manifest = json.loads(write_manifest(tmp_path).read_text())

    names = {
        d.name.value
        for path in SCHEMA_DIR.glob("*.graphql")
        for d in parse(path.read_text()).definitions
        if isinstance(d, OperationDefinitionNode)
    }
    assert (manifest["format"], manifest["version"]) == ("apollo-persisted-query-manifest", 1)
    assert {entry["name"] for entry in manifest["operations"]} == names
    for entry in manifest["operations"]:
        assert entry["id"] == document_hash(entry["body"])
        document = parse(entry["body"])
        [operation] = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        assert (operation.name.value, operation.operation.value) == (entry["name"], entry["type"])
        defined = {
            d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        spread = set(_spreads(entry["body"]))
        assert spread == defined, entry["name"]


def _spreads(body: str) -> list[str]:
    import re

    return [name for name in re.findall(r"\.\.\.\s*([_A-Za-z]\w*)", body) if name != "on"]


INTROSPECTION = "query IntrospectionQuery { __schema { queryType { name } } }"


@pytest.mark.parametrize("allowed", [False, True])
async def test_trusted_only_runs_introspection_only_when_allowed(
    settings, tmp_path, allowed
) -> None:
    """Under ``only``, GraphiQL's schema query runs when introspection is allowed and is
    refused otherwise; a document mixing introspection with data is refused either way."""
    changes = {
        "trusted_documents": "only",
        "trusted_documents_file": write_manifest(tmp_path),
        "trusted_documents_allow_introspection": allowed,
    }
    mixed = "query Mixed { __typename llms(first: 1) { totalCount } }"
    async with serve(settings, **changes) as http:
        schema = (await post(http, INTROSPECTION)).json()
        refused = (await post(http, mixed)).json()

    if allowed:
        assert schema["data"]["__schema"]["queryType"]["name"] == "Query"
    else:
        assert schema["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert refused["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
