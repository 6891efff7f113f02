"""Who is calling: an ``Authorization: Bearer`` header or a WebSocket init payload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from synapse_gql.accounts import repository
from synapse_gql.accounts.token_cache import TokenCache
from synapse_gql.budgets.caller import REQUEST_API_TOKEN
from synapse_gql.context import Viewer
from synapse_gql.errors import Unauthenticated
from synapse_gql.gql.read_connection import ReadConnection
from synapse_gql.models import User
from synapse_gql.security.keys import API_TOKEN_PREFIX, digest
from synapse_gql.state import AppState

# Writing last_used_at on every request would turn reads into writes; a minute is precise enough.
TOUCH_INTERVAL = timedelta(minutes=1)


def bearer_token(header: str | None) -> str | None:
    """The token of ``Bearer <token>`` (or a bare token), None when absent."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if not token:
        return scheme or None
    if scheme.lower() != "bearer":
        raise Unauthenticated("Unsupported authorization scheme: use `Bearer <token>`.")
    return token.strip()


async def authenticate(
    state: AppState, token: str | None, reads: ReadConnection | None = None
) -> Viewer | None:
    """The viewer for ``token``; None without a token; ``Unauthenticated`` when invalid.
    The user is read over ``reads`` when given (the request's own read connection)."""
    REQUEST_API_TOKEN.set(None)  # API-token budgets: set again below for an API token
    if token is None:
        return None
    if token.startswith(API_TOKEN_PREFIX):
        return await _from_api_token(state, token)
    return (await _from_access_token(state, token, reads))[0]


def cached_viewer(state: AppState, token: str | None) -> Viewer | None:
    """The viewer of a login access token checked within the last ``auth_cache_seconds``
    by :func:`authenticate_request` (``accounts.token_cache``), else None."""
    cache = state.access_tokens
    if cache is None or token is None:
        return None
    viewer = cache.get(token)
    if viewer is not None:
        REQUEST_API_TOKEN.set(None)
    return viewer


def forget_account(state: AppState, user_id: uuid.UUID) -> None:
    """Read the account of ``user_id`` again on its next HTTP request (its row changed)."""
    if state.access_tokens is not None:
        state.access_tokens.forget_user(user_id)


async def authenticate_request(
    state: AppState, token: str | None, reads: ReadConnection | None = None
) -> Viewer | None:
    """:func:`authenticate` for an HTTP request; a login access token that passes is
    remembered for ``auth_cache_seconds`` (see :func:`cached_viewer`)."""
    if token is None or token.startswith(API_TOKEN_PREFIX):
        return await authenticate(state, token, reads)
    REQUEST_API_TOKEN.set(None)
    viewer, expires_at = await _from_access_token(state, token, reads)
    cache = state.access_tokens
    if cache is None:
        cache = state.access_tokens = TokenCache(state.settings.auth_cache_seconds)
    cache.put(token, viewer, expires_at.timestamp())
    return viewer


async def _from_access_token(
    state: AppState, token: str, reads: ReadConnection | None
) -> tuple[Viewer, datetime]:
    claims = state.keyring.read_access_token(token)
    if claims is None:
        raise Unauthenticated("The access token is invalid or has expired: log in again.")
    user = await _user(state, claims.user_id, reads)
    if user is None or not user.is_active:
        raise Unauthenticated("The account of this token no longer exists or is disabled.")
    return Viewer(user=user, via="access_token"), claims.expires_at


async def _user(state: AppState, user_id: uuid.UUID, reads: ReadConnection | None) -> User | None:
    if reads is not None:
        return await reads.in_session(lambda session: repository.user_by_id(session, user_id))
    async with state.db.reads() as session:
        return await repository.user_by_id(session, user_id)


async def _from_api_token(state: AppState, token: str) -> Viewer:
    now = datetime.now(UTC)
    async with state.db.transaction() as session:
        found = await repository.api_token_by_hash(session, digest(token))
        if found is None or not found[0].is_usable(now) or not found[1].is_active:
            raise Unauthenticated("The API token is invalid, revoked or expired.")
        api_token, user = found
        REQUEST_API_TOKEN.set(api_token.id)
        if api_token.last_used_at is None or now - api_token.last_used_at > TOUCH_INTERVAL:
            await repository.touch_api_token(session, api_token.id, now)
    return Viewer(user=user, via="api_token")
