"""Unexpected errors reach clients masked (with an id that is logged); query limits hold."""

from __future__ import annotations

import logging
import re

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.helpers import error_codes, scalar

HEX_ID = re.compile(r"[0-9a-f]{32}")


def deep_query(levels: int) -> str:
    """``workspaces`` nested through projects and back, 3 levels deeper per step."""
    inner = "id"
    for _ in range(levels):
        inner = f"projects {{ nodes {{ workspace {{ {inner} }} }} }}"
    return f"{{ workspaces {{ nodes {{ {inner} }} }} }}"


def aliased_query(count: int) -> str:
    return "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(count)) + " }"


def assert_validation_error(body: dict, fragment: str) -> None:
    """A request-level rejection: no data, a message with ``fragment``, nothing masked."""
    assert body["data"] is None
    messages = [error["message"] for error in body["errors"]]
    assert any(fragment in message for message in messages), messages
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body)


async def test_unexpected_error_is_masked_and_logged(
    gql, make_user, monkeypatch, caplog, db_engine
) -> None:
    """Given a service that crashes, when called, then a generic message with an error id
    that the log also holds, and no detail of the crash."""

    async def crash(*args, **kwargs):
        raise RuntimeError("secret detail")

    user = await make_user("ada")
    monkeypatch.setattr("synapse_gql.workspaces.service.create_workspace", crash)
    caplog.set_level(logging.ERROR, logger="synapse_gql.errors")

    response = await gql.raw(
        'mutation { createWorkspace(input: {name: "T"}) { __typename } }', token=user.token
    )

    assert response.status_code == 200
    assert "secret detail" not in response.text
    [error] = response.json()["errors"]
    assert "error id" in error["message"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    error_id = error["extensions"]["errorId"]
    assert HEX_ID.fullmatch(error_id)
    assert error_id in error["message"]
    [record] = [r for r in caplog.records if r.name == "synapse_gql.errors"]
    assert error_id in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "secret detail"
    assert await scalar(db_engine, "SELECT count(*) FROM workspaces") == 0


async def test_an_error_escaping_an_extension_is_masked_too(
    gql, make_user, app, monkeypatch, caplog
) -> None:
    """Given the rate limit's hook failing before the operation runs, when a query is sent,
    then an unexpected failure reaches the client as "Internal server error" with an id the
    log holds, and Redis out of connections as TRY_AGAIN; neither shows its own text."""
    user = await make_user("ada")
    caplog.set_level(logging.ERROR, logger="synapse_gql.errors")

    async def hook_failing_with(error: Exception) -> tuple[str, dict]:
        async def fail(*args, **kwargs):
            raise error

        monkeypatch.setattr(app.state.synapse.operations.rate_limits, "caller", fail)
        response = await gql.raw("{ me { id } }", token=user.token)
        [masked] = response.json()["errors"]
        return response.text, masked

    text, error = await hook_failing_with(RuntimeError("secret detail"))
    assert "secret detail" not in text
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    [record] = [r for r in caplog.records if r.name == "synapse_gql.errors"]
    assert error["extensions"]["errorId"] in record.getMessage()

    text, error = await hook_failing_with(RedisConnectionError("No connection available."))
    assert "No connection available" not in text
    assert error["extensions"]["code"] == "TRY_AGAIN"


async def test_each_unexpected_error_gets_its_own_id(gql, make_user, monkeypatch) -> None:
    """Given a crashing service, when called twice, then the two error ids differ."""

    async def crash(*args, **kwargs):
        raise RuntimeError("secret detail")

    user = await make_user("ada")
    monkeypatch.setattr("synapse_gql.workspaces.service.create_workspace", crash)
    mutation = 'mutation { createWorkspace(input: {name: "T"}) { __typename } }'

    first = await gql.query(mutation, token=user.token)
    second = await gql.query(mutation, token=user.token)

    ids = {body["errors"][0]["extensions"]["errorId"] for body in (first, second)}
    assert len(ids) == 2


async def test_expected_errors_keep_their_message(gql) -> None:
    """Given no token, when reading apiTokens, then the real message and code, no error id."""
    body = await gql.query("{ apiTokens { totalCount } }")

    [error] = body["errors"]
    assert error["message"].startswith("Authentication required")
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert "errorId" not in error["extensions"]


async def test_query_within_depth_limit_runs(gql, make_user, make_workspace) -> None:
    """Given a query 9 levels deep (limit 12), when run, then it succeeds."""
    user = await make_user("ada")
    await make_workspace(user)

    body = await gql.query(deep_query(2), token=user.token)

    assert "errors" not in body
    assert len(body["data"]["workspaces"]["nodes"]) == 1


@pytest.mark.parametrize("token", [False, True])
async def test_query_over_depth_limit_is_rejected(gql, make_user, token) -> None:
    """Given a query 18 levels deep, when sent (signed in or not), then a validation error."""
    user = await make_user("ada")

    body = await gql.query(deep_query(5), token=user.token if token else None)

    assert_validation_error(body, "exceeds maximum operation depth")


async def test_aliases_up_to_the_limit_are_allowed(gql, make_user) -> None:
    """Given 30 aliases (the limit), when sent, then the query runs."""
    user = await make_user("ada")

    body = await gql.query(aliased_query(30), token=user.token)

    assert "errors" not in body
    assert body["data"]["a29"]["id"] == user.id


async def test_too_many_aliases_are_rejected(gql, make_user) -> None:
    """Given 31 aliases, when sent, then a validation error and nothing is run."""
    user = await make_user("ada")

    body = await gql.query(aliased_query(31), token=user.token)

    assert_validation_error(body, "aliases")


async def test_too_many_tokens_are_rejected(gql) -> None:
    """Given a document of more than 4000 tokens, when sent, then it is refused, not run."""
    fields = " ".join(["__typename"] * 4100)

    body = await gql.query(f"{{ {fields} }}")

    assert body["data"] is None
    assert "INTERNAL_SERVER_ERROR" not in error_codes(body)
    assert any("token" in error["message"].lower() for error in body["errors"])
