"""GraphQL operations in the metrics: count by name, type and outcome, duration, and the
subscriptions running.

Outcomes: ``ok``; ``user_error`` when an expected error was returned (a ``UserError`` or
``SubscriptionRefused`` result, or a domain error in ``errors``); ``refused`` when the
request was rejected before running (syntax, validation, limits); ``error`` for anything
unexpected (what clients see masked).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from synapse_gql.errors import DomainError
from synapse_gql.observability import metrics

OK, USER_ERROR, ERROR, REFUSED = "ok", "user_error", "error", "refused"
# Operation names come from clients: only this many distinct ones get their own series.
MAX_OPERATION_NAMES = 500
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_names: set[str] = set()


@dataclass
class _Operation:
    user_error: bool = False
    subscribed: bool = False


_operation: ContextVar[_Operation | None] = ContextVar("synapse_operation", default=None)


def note_user_error() -> None:
    """Mark the running operation as having returned an expected error."""
    operation = _operation.get()
    if operation is not None:
        operation.user_error = True


def operation_label(name: str | None) -> str:
    """``name`` as a metric label: ``anonymous``, ``invalid``, ``other`` past the cap."""
    if not name:
        return "anonymous"
    if not _NAME.fullmatch(name):
        return "invalid"
    if name not in _names:
        if len(_names) >= MAX_OPERATION_NAMES:
            return "other"
        _names.add(name)
    return name


# The series of each metric by labels, looked up once (``labels()`` checks and locks).
_children: dict[tuple[object, ...], Any] = {}


def _series(metric: Any, *labels: str) -> Any:
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


class GraphQLMetrics(SchemaExtension):
    """Counts and times every operation (see the module docstring); listed after
    ``ErrorMasking`` so it sees errors before they are masked."""

    def on_operation(self) -> Iterator[None]:
        operation = _Operation()
        _operation.set(operation)
        started = time.perf_counter()
        try:
            yield
        finally:
            if operation.subscribed:
                metrics.SUBSCRIPTIONS_OPEN.dec()
            self._record(operation, time.perf_counter() - started)

    kind: str | None = None

    def on_execute(self) -> Iterator[None]:
        operation = _operation.get()
        if operation is not None and self._type() == OperationType.SUBSCRIPTION.value:
            operation.subscribed = True
            metrics.SUBSCRIPTIONS_OPEN.inc()
        yield

    def _type(self) -> str:
        # Found once: Strawberry looks the operation up in the document at every ask.
        if self.kind is None:
            try:
                self.kind = self.execution_context.operation_type.value
            except Exception:  # no operation could be picked from the document
                return "unknown"
        return self.kind

    def _record(self, operation: _Operation, seconds: float) -> None:
        name = operation_label(self.execution_context.operation_name)
        kind = self._type()
        _series(metrics.GRAPHQL_REQUESTS, name, kind, self._outcome(operation)).inc()
        _series(metrics.GRAPHQL_DURATION, name, kind).observe(seconds)

    def _outcome(self, operation: _Operation) -> str:
        result = self.execution_context.result
        errors: list[GraphQLError] = list(getattr(result, "errors", None) or [])
        originals = [error.original_error for error in errors]
        if any(o is not None and not isinstance(o, (DomainError, GraphQLError)) for o in originals):
            return ERROR
        if operation.user_error or any(isinstance(o, DomainError) for o in originals):
            return USER_ERROR
        if not errors:
            return OK
        # A refusal of the whole request carries no data and no field path.
        data = getattr(result, "data", None)
        return REFUSED if data is None and all(e.path is None for e in errors) else ERROR
