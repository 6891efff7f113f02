"""SQL for users and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import ApiToken, User


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.lower()))


async def user_by_id(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await session.get(User, user_id)


async def api_token_by_hash(session: AsyncSession, token_hash: str) -> tuple[ApiToken, User] | None:
    stmt = (
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1])


async def touch_api_token(session: AsyncSession, token_id: uuid.UUID, now: datetime) -> None:
    await session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def api_tokens_of(user_id: uuid.UUID, include_revoked: bool) -> Select[ApiToken]:
    stmt = select(ApiToken).where(ApiToken.user_id == user_id)
    if not include_revoked:
        stmt = stmt.where(ApiToken.revoked_at.is_(None))
    return stmt
