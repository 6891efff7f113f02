"""Executing one event for a group of subscribers and encoding the result once.

An :class:`~graphql.execution.Executor` is built once per (document text, operation name,
variables): variables are coerced then, and each event is executed from it with
``build_per_event_executor``, exactly as graphql-core's ``subscribe`` does for one
subscriber. The result's errors go through the schema's error masking; the payload is
encoded once with orjson and framed per subscriber by concatenation.
"""

from __future__ import annotations

from collections import OrderedDict
from inspect import isawaitable
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLError, MiddlewareManager
from graphql.execution import Executor, execute_subscription_event
from strawberry import Schema

from synapse_gql.gql.errors import masked_error

CACHED_EXECUTORS = 1024
GroupKey = tuple[str, str | None, bytes]


class VariablesRefused(Exception):
    """The variables do not fit the document: the errors a subscribe answers with."""

    def __init__(self, errors: list[GraphQLError]) -> None:
        super().__init__(errors[0].message if errors else "invalid variables")
        self.errors = errors


def group_key(text: str, operation_name: str | None, variables: dict[str, Any] | None) -> GroupKey:
    """Subscribers whose keys are equal receive the same payload for every delta."""
    return text, operation_name, orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)


def build_executor(
    schema: Schema, document: Any, operation_name: str | None, variables: Any, context: Any
) -> Executor:
    """The executor of the operation (``VariablesRefused`` when variables do not coerce)."""
    executor_class = schema.execution_context_class
    built = executor_class.build(
        schema._schema,
        document,
        None,
        context,
        variables,
        operation_name,
        middleware=MiddlewareManager(),
        operation_extensions=None,
    )
    if isinstance(built, list):
        raise VariablesRefused(built)
    return built


class Executors:
    """Executors by group key, the last ``CACHED_EXECUTORS`` of them."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._built: OrderedDict[GroupKey, Executor] = OrderedDict()

    def get(self, key: GroupKey, document: Any, variables: Any, context: Any) -> Executor:
        """The executor of ``key``, built with ``context`` when new."""
        executor = self._built.get(key)
        if executor is None:
            executor = build_executor(self.schema, document, key[1], variables, context)
            self._built[key] = executor
            if len(self._built) > CACHED_EXECUTORS:
                self._built.popitem(last=False)
        else:
            self._built.move_to_end(key)
        return executor


async def execute_event(
    executor: Executor, event: object, context: Any | None = None
) -> ExecutionResult:
    """``event`` executed as the root value of the subscription's selection (with
    ``context`` instead of the executor's when given)."""
    per_event = executor.build_per_event_executor(event)
    if context is not None:
        per_event.context_value = context
    result = execute_subscription_event(per_event)
    return await result if isawaitable(result) else result


def encode_result(result: ExecutionResult) -> str:
    """The ``next`` payload of ``result`` (errors masked), as JSON text."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [masked_error(error).formatted for error in result.errors]
    return orjson.dumps(payload).decode()


def failure_payload(error: Exception) -> str:
    """The payload of a stream that broke: a masked error with no data."""
    located = error
    if not isinstance(located, GraphQLError):
        located = GraphQLError(str(error), original_error=error)
    return encode_result(ExecutionResult(data=None, errors=[located]))


def frame_prefix(operation_id: str, message_type: str) -> str:
    """The start of every data frame of one operation, up to its payload."""
    encoded_id = orjson.dumps(operation_id).decode()
    return '{"id":' + encoded_id + ',"type":"' + message_type + '","payload":'
