"""Rate limits set on one API token: stored rows, and a short per-process cache of them.

Who may set them: API tokens belong to one user and are not scoped to a workspace, so the
token's owner may set its limits at or below the configured API-token defaults (to keep a
misbehaving integration in check), and platform administrators may set any limit.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synapse_gql.config import Settings
from synapse_gql.errors import DomainError, Forbidden, NotFound
from synapse_gql.models import ApiToken, ApiTokenRateLimit, User

# Other processes see a changed limit within this many seconds (this process at once):
# reading the row on every request would add a statement to each API-token request.
CACHE_SECONDS = 30.0
CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenLimits:
    """An API token's limits per minute; None keeps the configured default."""

    points_per_minute: int | None = None
    model_calls_per_minute: int | None = None


class TokenLimitCache:
    """Each token's limits, read from the database at most every ``CACHE_SECONDS``."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._entries: dict[uuid.UUID, tuple[float, TokenLimits]] = {}

    async def get(self, token_id: uuid.UUID) -> TokenLimits:
        entry = self._entries.get(token_id)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        async with self._sessions() as session:
            row = await session.get(ApiTokenRateLimit, token_id)
        limits = TokenLimits(
            row.points_per_minute if row else None, row.model_calls_per_minute if row else None
        )
        if len(self._entries) >= CACHE_SIZE:
            self._entries.clear()
        self._entries[token_id] = (time.monotonic() + CACHE_SECONDS, limits)
        return limits

    def forget(self, token_id: uuid.UUID) -> None:
        self._entries.pop(token_id, None)


def _check_value(value: int | None, default: int, field: str, is_admin: bool) -> None:
    if value is None:
        return
    if value < 1:
        raise DomainError("A limit is at least 1 per minute.", field=["input", field])
    if value > default and not is_admin:
        raise Forbidden(
            f"Only platform administrators may raise a token above {default} per minute.",
            field=["input", field],
        )


async def set_token_limits(
    session: AsyncSession, settings: Settings, actor: User, token_id: uuid.UUID, limits: TokenLimits
) -> ApiTokenRateLimit:
    """Store ``limits`` for the token (its owner, within the defaults; any admin)."""
    token = await session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.id and not actor.is_platform_admin):
        raise NotFound("No such API token.", field=["input", "tokenId"])
    admin = actor.is_platform_admin
    _check_value(
        limits.points_per_minute, settings.rate_limit_api_token_points, "pointsPerMinute", admin
    )
    _check_value(
        limits.model_calls_per_minute, settings.rate_limit_model_calls, "modelCallsPerMinute", admin
    )
    values = {
        "points_per_minute": limits.points_per_minute,
        "model_calls_per_minute": limits.model_calls_per_minute,
        "set_by_id": actor.id,
    }
    statement = insert(ApiTokenRateLimit).values(api_token_id=token_id, **values)
    await session.execute(
        statement.on_conflict_do_update(index_elements=["api_token_id"], set_=values)
    )
    await session.flush()
    stored = await session.scalar(
        select(ApiTokenRateLimit)
        .where(ApiTokenRateLimit.api_token_id == token_id)
        .execution_options(populate_existing=True)
    )
    assert stored is not None
    return stored
