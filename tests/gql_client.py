"""A GraphQL client over HTTP that sends the documents of ``schema/`` by operation name."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse, print_ast

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schema"


@cache
def operation_documents() -> dict[str, str]:
    """Operation name -> a document with that operation and the fragments it uses.

    The documents of ``schema/`` are read as one (as persisted-operation manifests and
    code generators read them): each fragment is defined once, in any file.
    """
    definitions = [
        definition
        for path in sorted(SCHEMA_DIR.glob("*.graphql"))
        for definition in parse(path.read_text()).definitions
    ]
    fragments = {d.name.value: d for d in definitions if isinstance(d, FragmentDefinitionNode)}
    return {
        d.name.value: _with_fragments(d, fragments)
        for d in definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    }


def _with_fragments(
    operation: OperationDefinitionNode, fragments: dict[str, FragmentDefinitionNode]
) -> str:
    used: dict[str, FragmentDefinitionNode] = {}
    pending = [operation]
    while pending:
        node = pending.pop()
        for name in re.findall(r"\.\.\.\s*(\w+)", print_ast(node)):
            if name in fragments and name not in used and name != "on":
                used[name] = fragments[name]
                pending.append(fragments[name])  # type: ignore[arg-type]
    return "\n\n".join(print_ast(d) for d in [operation, *used.values()])


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
