"""Persisted queries in the router's request parsing (HTTP GET and POST)."""

from __future__ import annotations

from typing import Any

from synapse_gql.operations.persisted import PersistedQueries


class PersistedQueryParsing:
    """Put before ``GraphQLRequestParsing`` in the router's bases; the app sets
    ``persisted_queries``. A request naming its document by hash gets it filled in."""

    persisted_queries: PersistedQueries | None = None

    async def resolve_document(self, data: Any) -> Any:
        if self.persisted_queries is not None:
            data = await self.persisted_queries.resolve(data)
        return await super().resolve_document(data)  # type: ignore[misc]
