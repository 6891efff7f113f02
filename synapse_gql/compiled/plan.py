"""Plans per operation: whether an operation has a SQL form, decided once.

Parsed documents are held by text (``gql.document_cache``), so the same operation node
comes back for every request of a document; the answer is kept per node (and schema),
least recently used first out, ``capacity`` operations at most. A document that is not
held (too long to cache) is parsed anew per request and its operation checked anew.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from graphql import GraphQLSchema, OperationDefinitionNode

from synapse_gql.compiled.compiler import compilable

DEFAULT_CAPACITY = 1024


class PlanCache:
    """Whether each recently seen operation compiles."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        # The key holds ids; the value holds the objects, so the ids stay theirs.
        self._known: OrderedDict[tuple[int, int], tuple[Any, Any, bool]] = OrderedDict()

    def compilable(
        self,
        schema: GraphQLSchema,
        operation: OperationDefinitionNode,
        fragments: Mapping[str, Any],
    ) -> bool:
        """Whether ``operation`` has a SQL form (computed on its first request)."""
        key = (id(schema), id(operation))
        known = self._known.get(key)
        if known is not None:
            self._known.move_to_end(key)
            return known[2]
        answer = compilable(schema, operation, fragments)
        self._known[key] = (schema, operation, answer)
        if len(self._known) > self.capacity:
            self._known.popitem(last=False)
        return answer

    def __len__(self) -> int:
        return len(self._known)


PLANS = PlanCache()
