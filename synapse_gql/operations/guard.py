"""The checks every operation passes just before it runs, over any transport: trusted
documents, then the caller's points and model calls. A refused operation runs nothing.

They run after the other limits, so a document refused for its depth, cost or input
takes no points. A subscription pays its cost once, when it subscribes.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from synapse_gql.config import Settings
from synapse_gql.gql.cost import computed_cost, query_cost, refuse_execution
from synapse_gql.operations.persisted import PersistedQueries, document_hash
from synapse_gql.operations.rate_limit import MODEL_FIELDS, RateLimits, Spent
from synapse_gql.security.client_address import client_address

logger = logging.getLogger(__name__)
NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"


@dataclass
class Operations:
    """Process-wide services of this package: rate limits and persisted documents."""

    settings: Settings
    rate_limits: RateLimits
    persisted: PersistedQueries

    async def close(self) -> None:
        await self.rate_limits.store.close()
        await self.persisted.close()


def _is_exempt_admin(context: Any, configured: bool) -> bool:
    viewer = context.viewer
    return configured and viewer is not None and viewer.is_platform_admin


def untrusted(operations: Operations, execution: ExecutionContext) -> GraphQLError | None:
    """The refusal of a document outside the trusted manifest (``only``), or None; in
    ``log`` mode the document runs and is logged."""
    settings = operations.settings
    if settings.trusted_documents == "off" or execution.query is None:
        return None
    sha256 = document_hash(execution.query)
    if sha256 in operations.persisted.manifest:
        return None
    if _is_exempt_admin(execution.context, settings.trusted_documents_exempt_admins):
        return None
    if settings.trusted_documents_allow_introspection and _introspection_only(execution):
        return None
    if settings.trusted_documents == "log":
        logger.warning("untrusted document %s (%s)", sha256, execution.operation_name)
        return None
    message = "Only the trusted documents of this API run: send one by its id."
    return GraphQLError(message, extensions={"code": NOT_IN_LIST})


INTROSPECTION_FIELDS = frozenset({"__schema", "__type", "__typename"})


def _introspection_only(execution: ExecutionContext) -> bool:
    """True when the operation selects only introspection fields at its root (GraphiQL's
    schema query): it reads the schema, never data."""
    document = execution.graphql_document
    operation = None if document is None else get_operation_ast(document, execution.operation_name)
    if operation is None:
        return False
    selections = operation.selection_set.selections
    return bool(selections) and all(
        isinstance(node, FieldNode) and node.name.value in INTROSPECTION_FIELDS
        for node in selections
    )


def model_calls(operation: OperationDefinitionNode) -> int:
    """How many model-calling mutation fields the operation selects at its root."""
    if operation.operation.value != "mutation":
        return 0
    return sum(
        1
        for selection in operation.selection_set.selections
        if isinstance(selection, FieldNode) and selection.name.value in MODEL_FIELDS
    )


def retry_seconds(wait: float) -> int:
    """Whole seconds to wait, rounded up, at least 1."""
    return max(1, math.ceil(wait))


def rate_limited(message: str, retry_after: float) -> GraphQLError:
    extensions = {"code": "RATE_LIMITED", "retryAfter": retry_seconds(retry_after)}
    return GraphQLError(message, extensions=extensions)


class OperationGuard(SchemaExtension):
    """Trusted documents and rate limits; reports ``extensions.rateLimit`` and sets the
    ``RateLimit-*`` headers of an HTTP response."""

    spent: Spent | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        # The schema executed without a request context (tools, direct calls) has no
        # caller to limit.
        requested = execution.context is not None
        if requested and execution.graphql_document is not None and execution.result is None:
            operations: Operations = execution.context.state.operations
            error = untrusted(operations, execution) or await self._limit(operations)
            if error is not None:
                refuse_execution(execution, error)
        yield

    async def _limit(self, operations: Operations) -> GraphQLError | None:
        execution = self.execution_context
        context = execution.context
        if _is_exempt_admin(context, operations.settings.rate_limit_exempt_admins):
            return None
        document = execution.graphql_document
        if document is None:
            return None
        operation = get_operation_ast(document, execution.operation_name)
        if operation is None:
            return None
        limits = operations.rate_limits
        address = client_address(context.request, operations.settings.trusted_proxies)
        caller = await limits.caller(context.viewer.id if context.viewer else None, address)
        cost = self._cost(operations.settings)
        if cost > caller.points:
            return GraphQLError(
                f"Query cost {cost} exceeds your budget of {caller.points} points per minute.",
                extensions={"code": "QUERY_TOO_COSTLY"},
            )
        self.spent = spent = await limits.spend(caller, cost)
        if not spent.ok:
            self._set_headers(spent.resets_in)
            message = f"Rate limit of {spent.limit} points per minute exceeded (cost {cost})."
            return rate_limited(message, spent.resets_in)
        wait = await limits.call_models(caller, model_calls(operation))
        if wait is not None:
            # Nothing runs: the points go back, the wait is the model calls'.
            await limits.refund(caller, cost)
            self.spent = replace(spent, remaining=min(spent.limit, spent.remaining + cost))
            self._set_headers(wait)
            message = f"Model call limit of {caller.model_calls} per minute exceeded."
            return rate_limited(message, wait)
        self._set_headers(None)
        return None

    def _cost(self, settings: Settings) -> int:
        execution = self.execution_context
        known = computed_cost(execution)
        if known is not None:
            return known
        return query_cost(
            execution.schema._schema,
            execution.graphql_document,
            execution.operation_name,
            execution.variables,
            settings.default_page_size,
        )

    def _set_headers(self, retry_after: float | None) -> None:
        response = getattr(self.execution_context.context, "response", None)
        if response is None or self.spent is None:
            return  # a WebSocket: the numbers are in `extensions.rateLimit`
        response.headers.update(self.spent.headers())
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_seconds(retry_after))

    def get_results(self) -> dict[str, Any]:
        if self.spent is None:
            return {}
        return {"rateLimit": self.spent.report()}
