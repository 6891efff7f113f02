"""A GraphQL client over HTTP that sends the documents of ``schema/`` by operation name."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import httpx

from synapse_gql.operations.manifest import operation_documents as documents_of

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schema"


@cache
def operation_documents() -> dict[str, str]:
    """Operation name -> a document with that operation and the fragments it uses (read
    as the trusted-documents manifest reads ``schema/``)."""
    return documents_of(SCHEMA_DIR)


class GraphQLClient:
    """Posts to ``/graphql``; ``token`` becomes a bearer header."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def raw(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        token: str | None = None,
        operation: str | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation:
            body["operationName"] = operation
        return await self.http.post("/graphql", json=body, headers=headers)

    async def query(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        """Run an ad-hoc query; returns the whole response body."""
        response = await self.raw(query, variables, token)
        assert response.status_code == 200, response.text
        return response.json()

    async def op(self, name: str, token: str | None = None, /, **variables: Any) -> dict[str, Any]:
        """Run a named operation of ``schema/``; fails the test on GraphQL errors.

        ``name`` and ``token`` are positional only, so an operation may take a ``$token``.
        """
        response = await self.raw(operation_documents()[name], variables, token, operation=name)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]
