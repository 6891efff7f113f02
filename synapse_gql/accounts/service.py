"""Registration, login and API token management. Callers own the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

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


async def register(session: AsyncSession, email: str, name: str, password: str) -> User:
    """Create a user; ``EMAIL_TAKEN`` when the email (any case) is in use."""
    email = validation.email(email, ["input", "email"])
    name = validation.text(name, ["input", "name"])
    _check_password(password)
    if await repository.user_by_email(session, email) is not None:
        raise DomainError(
            "An account with this email already exists.",
            field=["input", "email"],
            code=ErrorCode.EMAIL_TAKEN,
        )
    user = User(email=email, name=name, password_hash=hash_password(password))
    session.add(user)
    await session.flush()
    return user


async def login(session: AsyncSession, email: str, password: str) -> User:
    """The user whose credentials match; one vague error for a wrong email or password."""
    user = await repository.user_by_email(session, email.strip())
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise DomainError("Wrong email or password.", code=ErrorCode.INVALID_CREDENTIALS)
    if not user.is_active:
        raise DomainError("This account is disabled.", code=ErrorCode.INVALID_CREDENTIALS)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = datetime.now(UTC)
    await session.flush()
    return user


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
