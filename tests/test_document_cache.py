"""A document text is parsed, validated (limits included) and costed once: the next
requests with the same text skip all three, and refusals keep their typed codes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import strawberry.schema.schema as strawberry_schema

from synapse_gql.gql import cost
from tests.helpers import error_codes

ONE_ROW = "query One($id: ID!) { node(id: $id) { ... on Workspace { name } } }"
PAGED = "query Paged($n: Int) { workspaces(first: $n) { totalCount edges { node { id } } } }"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the server parses, validates and costs a document."""
    counted: Counter[str] = Counter()

    def counting(name: str, original: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counted[name] += 1
            return original(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(strawberry_schema, "parse", counting("parse", strawberry_schema.parse))
    monkeypatch.setattr(
        strawberry_schema, "validate", counting("validate", strawberry_schema.validate)
    )
    monkeypatch.setattr(cost, "measured_cost", counting("cost", cost.measured_cost))
    return counted


async def test_a_known_document_is_not_parsed_validated_or_costed_again(
    gql, make_user, make_workspace, calls
) -> None:
    """Given a one-row query sent once, when it is sent again (other variables), then it is
    answered without a parse, a validation or a cost walk."""
    owner = await make_user("owner")
    first, second = await make_workspace(owner, "A"), await make_workspace(owner, "B")
    calls.clear()
    body = await gql.query(ONE_ROW, {"id": first["id"]}, owner.token)
    assert body["data"]["node"] == {"name": "A"}
    assert calls == {"parse": 1, "validate": 1, "cost": 1}

    body = await gql.query(ONE_ROW, {"id": second["id"]}, owner.token)
    assert body["data"]["node"] == {"name": "B"}
    assert body["extensions"]["cost"]["requestedQueryCost"] == 2
    assert calls == {"parse": 1, "validate": 1, "cost": 1}


async def test_a_cost_read_from_variables_follows_them(gql, make_user, calls) -> None:
    """Given a query whose page size is a variable, when it is sent with 1, 50, then 1
    again, then each answer reports the cost of its own page size."""
    owner = await make_user("owner")
    calls.clear()
    costs = []
    for size in (1, 50, 1):
        body = await gql.query(PAGED, {"n": size}, owner.token)
        assert "errors" not in body, body
        costs.append(body["extensions"]["cost"]["requestedQueryCost"])
    assert costs == [5, 201, 5]
    assert (calls["parse"], calls["validate"]) == (1, 1)


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("{ me { id ", "PARSE_FAILED"),
        ("{ me { nope } }", "VALIDATION_FAILED"),
    ],
)
async def test_a_refused_document_is_refused_every_time(gql, calls, document, code) -> None:
    """Given a document that does not parse or validate, when it is sent twice, then both
    answers carry the typed code: a refusal is never remembered as valid."""
    for _ in range(2):
        response = await gql.raw(document)
        assert error_codes(response.json()) == [code]
    assert calls["validate"] == (2 if code == "VALIDATION_FAILED" else 0)
