"""Domain exceptions. Services raise them; the GraphQL layer turns them into typed
``UserError`` results. Anything else is unexpected and reaches clients masked."""

from __future__ import annotations

import enum
from collections.abc import Sequence


class ConfigurationError(RuntimeError):
    """The server cannot start with the settings it was given."""


class ErrorCode(enum.Enum):
    """Stable, machine-readable codes of expected errors."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_ID = "INVALID_ID"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    SLUG_TAKEN = "SLUG_TAKEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    REGISTRATION_DISABLED = "REGISTRATION_DISABLED"
    LAST_OWNER = "LAST_OWNER"
    INVITATION_EXPIRED = "INVITATION_EXPIRED"
    INVITATION_NOT_PENDING = "INVITATION_NOT_PENDING"
    ALREADY_MEMBER = "ALREADY_MEMBER"
    MODEL_INACTIVE = "MODEL_INACTIVE"
    API_KEY_MISSING = "API_KEY_MISSING"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    PROVIDER_AUTH = "PROVIDER_AUTH"
    PROVIDER_RATE_LIMITED = "PROVIDER_RATE_LIMITED"
    CONTEXT_TOO_LONG = "CONTEXT_TOO_LONG"
    CONTENT_FILTERED = "CONTENT_FILTERED"
    PROVIDER_UNAVAILABLE = "PROVIDER_UNAVAILABLE"
    PROVIDER_TIMEOUT = "PROVIDER_TIMEOUT"
    PROVIDER_BAD_REQUEST = "PROVIDER_BAD_REQUEST"
    CONVERSATION_ARCHIVED = "CONVERSATION_ARCHIVED"
    GENERATION_INTERRUPTED = "GENERATION_INTERRUPTED"
    RATE_LIMITED = "RATE_LIMITED"
    INVALID_STATE = "INVALID_STATE"
    CANCELLED = "CANCELLED"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    # The server is busy (e.g. too many subscriptions starting at once): retry shortly.
    TRY_AGAIN = "TRY_AGAIN"


# Usage logs keep the provider-neutral code of the failed call (``ProviderErrorCode`` values);
# messages keep an ``ErrorCode`` value. Both read back as an ``ErrorCode``.
_STORED_PROVIDER_CODES = {
    "AUTH": ErrorCode.PROVIDER_AUTH,
    "RATE_LIMIT": ErrorCode.PROVIDER_RATE_LIMITED,
    "UNAVAILABLE": ErrorCode.PROVIDER_UNAVAILABLE,
    "TIMEOUT": ErrorCode.PROVIDER_TIMEOUT,
    "BAD_REQUEST": ErrorCode.PROVIDER_BAD_REQUEST,
}


def stored_error_code(value: str | None) -> ErrorCode | None:
    """The ``ErrorCode`` of an error code stored on a message or a usage log; a string no
    code matches (written by another version) reads as ``PROVIDER_ERROR``, never fails."""
    if value is None:
        return None
    try:
        return ErrorCode(value)
    except ValueError:
        return _STORED_PROVIDER_CODES.get(value, ErrorCode.PROVIDER_ERROR)


class DomainError(Exception):
    """An expected failure with a code, a human message and the input path it concerns."""

    code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(
        self,
        message: str,
        *,
        field: Sequence[str] | str | None = None,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if isinstance(field, str):
            field = [field]
        self.path: list[str] | None = list(field) if field else None


class Unauthenticated(DomainError):
    code = ErrorCode.UNAUTHENTICATED

    def __init__(self, message: str = "Authentication required: send a bearer token.") -> None:
        super().__init__(message)


class Forbidden(DomainError):
    code = ErrorCode.FORBIDDEN


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class InvalidInput(DomainError):
    code = ErrorCode.INVALID_INPUT


class Conflict(DomainError):
    code = ErrorCode.ALREADY_EXISTS


class TryAgain(DomainError):
    """The server cannot take this on right now; the same request may succeed shortly."""

    code = ErrorCode.TRY_AGAIN
