"""Expected errors as typed results, and masking of everything unexpected."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from strawberry.exceptions import MissingQueryError
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import Info, StreamExecutionResult

from synapse_gql.errors import DomainError, ErrorCode, TryAgain
from synapse_gql.observability.extension import note_user_error
from synapse_gql.observability.logging import current_request_id

logger = logging.getLogger("synapse_gql.errors")

strawberry.enum(ErrorCode, name="ErrorCode", description="Codes of expected errors.")
ErrorCodeType = ErrorCode


@strawberry.type(description="An expected failure: a code, a message and the input it concerns.")
class UserError:
    code: ErrorCodeType
    message: str
    path: list[str] | None = strawberry.field(
        description="Path of the input field at fault, e.g. ['input', 'email']."
    )

    @classmethod
    def from_exception(cls, error: DomainError) -> UserError:
        note_user_error()
        return cls(code=error.code, message=error.message, path=error.path)


@strawberry.type(
    description="The subscription was refused (unknown id, not yours, not allowed); the"
    " stream ends. (`UserError` of the mutations, with `reason` for `message`, so it fits"
    " beside the events' `message` field.)"
)
class SubscriptionRefused:
    code: ErrorCodeType
    reason: str
    path: list[str] | None

    @classmethod
    def from_exception(cls, error: DomainError) -> SubscriptionRefused:
        note_user_error()
        return cls(code=error.code, reason=error.message, path=error.path)


class DomainErrorHandler(strawberry.ExceptionHandler[DomainError, UserError]):
    """Turns a ``DomainError`` raised by a resolver into the ``UserError`` member of its union."""

    def handle(self, exception: DomainError, *, field: Any, info: Info) -> UserError:
        return UserError.from_exception(exception)


# A pool of this process exhausted past its wait, or Redis not answering in time.
BUSY_ERRORS = (PoolTimeoutError, RedisConnectionError, RedisTimeoutError)
# Raised by Strawberry inside the operation for its HTTP layer to answer 400: not masked.
_REQUEST_ERRORS = (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError)


def _is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, (DomainError, GraphQLError))


def masked_error(error: GraphQLError) -> GraphQLError:
    """``error`` as a client may see it: a ``DomainError`` keeps its message and gains
    ``extensions.code``; a database pool timeout, or Redis out of connections or not
    answering, becomes ``TRY_AGAIN``; an expected GraphQL error (validation, limits) stays
    as it is; anything else becomes "Internal server error" with an error id, logged with
    the trace under that id. Masking a masked error returns it unchanged."""
    original = error.original_error
    if isinstance(original, BUSY_ERRORS):
        # A pool stayed exhausted past its wait: the request may succeed shortly.
        busy = "database pool exhausted" if isinstance(original, PoolTimeoutError) else "Redis"
        logger.warning("%s: %s", busy, original)
        original = TryAgain("The server is busy: try again in a moment.")
        return _copy(error, original.message, {"code": original.code.value, "path": None})
    if isinstance(original, DomainError):
        extensions = {"code": original.code.value, "path": original.path}
        return _copy(error, error.message, extensions)
    if _is_expected(error):
        return error
    error_id = uuid.uuid4().hex
    logger.error("unexpected error %s", error_id, exc_info=original)
    message = f"Internal server error (error id: {error_id})."
    extensions = {"code": "INTERNAL_SERVER_ERROR", "errorId": error_id}
    if (request_id := current_request_id()) is not None:
        extensions["requestId"] = request_id
    return _copy(error, message, extensions)


def _mask_result(result: object) -> None:
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [masked_error(error) for error in errors]  # type: ignore[attr-defined]


class ErrorMasking(SchemaExtension):
    """Every result's errors through :func:`masked_error`: a query's or a mutation's once
    it is executed, each result of a subscription (WebSocket or HTTP stream) before it is
    sent, whether the error came at subscribe time or mid-stream, and an exception that
    escapes a later extension's hook (a rate limit whose Redis did not answer, say), which
    Strawberry would otherwise send with its own message."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except (GraphQLError, *_REQUEST_ERRORS):
            raise
        except Exception as error:
            raise masked_error(GraphQLError(str(error), original_error=error)) from None
        _mask_result(self.execution_context.result)

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        _mask_result(result)
        yield


def _copy(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={**(error.extensions or {}), **extensions},
    )
