"""Registration, login and API token management. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.accounts import repository
from synapse_gql.errors import DomainError, ErrorCode, InvalidInput, NotFound
from synapse_gql.gql import validation
from synapse_gql.models import ApiToken, User
from synapse_gql.security.keys import digest, new_api_token
from synapse_gql.security.passwords import hash_password, needs_rehash, verify_password

MIN_PASSWORD = 8
MAX_PASSWORD = 1024


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"A password has {MIN_PASSWORD} to {MAX_PASSWORD} characters.",
            field=["input", "password"],
        )


@dataclass(frozen=True)
class Registration:
    """A checked sign-up, its password already hashed."""

    email: str
    name: str
    password_hash: str


async def prepare_registration(email: str, name: str, password: str) -> Registration:
    """Check the input and hash the password (in the hashing pool, before any transaction
    is opened, so no database connection waits on it)."""
    email = validation.email(email, ["input", "email"])
    name = validation.text(name, ["input", "name"])
    _check_password(password)
    return Registration(email, name, await hash_password(password))


def _email_taken() -> DomainError:
    return DomainError(
        "An account with this email already exists.",
        field=["input", "email"],
        code=ErrorCode.EMAIL_TAKEN,
    )


async def register(session: AsyncSession, registration: Registration) -> User:
    """Create a user; ``EMAIL_TAKEN`` when the email (any case) is in use, also when another
    registration of it commits first (the insert runs in a savepoint)."""
    if await repository.user_by_email(session, registration.email) is not None:
        raise _email_taken()
    user = User(
        email=registration.email, name=registration.name, password_hash=registration.password_hash
    )
    try:
        async with session.begin_nested():
            session.add(user)
            await session.flush()
    except IntegrityError:
        raise _email_taken() from None
    return user


async def check_credentials(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]], email: str, password: str
) -> User:
    """The user whose credentials match; one vague error for a wrong email or password.

    The user is read in a short session and the password verified after it closed: a
    connection is never held while a verification waits for the hashing pool.
    """
    async with sessions() as session:
        user = await repository.user_by_email(session, email.strip())
    if not await verify_password(user.password_hash if user else None, password) or user is None:
        raise DomainError("Wrong email or password.", code=ErrorCode.INVALID_CREDENTIALS)
    if not user.is_active:
        raise DomainError("This account is disabled.", code=ErrorCode.INVALID_CREDENTIALS)
    return user


async def record_login(session: AsyncSession, user: User, new_hash: str | None) -> User:
    """Stamp the login (and store a stronger hash when one was made); the user is re-read
    in ``session``."""
    row = await repository.user_by_id(session, user.id)
    if row is None:
        raise DomainError("Wrong email or password.", code=ErrorCode.INVALID_CREDENTIALS)
    if new_hash is not None:
        row.password_hash = new_hash
    row.last_login_at = datetime.now(UTC)
    await session.flush()
    return row


async def rehash_if_needed(user: User, password: str) -> str | None:
    """A new hash when the stored one was made with weaker parameters than today's."""
    if user.password_hash and needs_rehash(user.password_hash):
        return await hash_password(password)
    return None


@dataclass(frozen=True)
class IssuedApiToken:
    token: str
    record: ApiToken


async def create_api_token(
    session: AsyncSession, user_id: uuid.UUID, name: str, expires_at: datetime | None
) -> IssuedApiToken:
    """A new API token; the clear token exists only in the return value."""
    name = validation.text(name, ["input", "name"], max_len=100)
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise InvalidInput("The expiry must be in the future.", field=["input", "expiresAt"])
    token = new_api_token()
    record = ApiToken(
        user_id=user_id,
        name=name,
        token_hash=digest(token),
        token_prefix=token[:12],
        expires_at=expires_at,
    )
    session.add(record)
    await session.flush()
    return IssuedApiToken(token=token, record=record)


async def revoke_api_token(
    session: AsyncSession, user_id: uuid.UUID, token_id: uuid.UUID
) -> ApiToken:
    """Revoke one of the user's own tokens (another user's token is simply not found)."""
    record = await session.get(ApiToken, token_id, with_for_update=True)
    if record is None or record.user_id != user_id:
        raise NotFound("No such API token.", field=["id"])
    if record.revoked_at is None:
        record.revoked_at = datetime.now(UTC)
        await session.flush()
    return record
