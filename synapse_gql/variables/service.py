"""Variable and secret rules: keys are upper-case identifiers, every value is encrypted,
and only the last four characters of a long enough value are ever kept in clear."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.errors import InvalidInput, NotFound
from synapse_gql.models import ApiKeySource, MemberRole, UserVariable, WorkspaceSecret
from synapse_gql.security.keys import Keyring
from synapse_gql.variables import repository
from synapse_gql.workspaces.access import require_role

KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")
MAX_VALUE_LENGTH = 10_000
# Shorter values show no hint at all: four characters of a short value reveal too much.
HINT_MIN_LENGTH = 12
MASK = "••••"


def check_key(key: str, field: Sequence[str]) -> str:
    """``key`` when it is an upper-case identifier of at most 128 characters."""
    if not KEY_RE.match(key):
        raise InvalidInput(
            "A key is 1 to 128 upper-case letters, digits and underscores, starting with a letter.",
            field=field,
        )
    return key


def check_value(value: str, field: Sequence[str]) -> str:
    if not 1 <= len(value) <= MAX_VALUE_LENGTH:
        raise InvalidInput(
            f"Must be between 1 and {MAX_VALUE_LENGTH} characters long.", field=field
        )
    return value


def last_four(value: str) -> str:
    """The hint kept in clear: the last four characters, or nothing for a short value."""
    return value[-4:] if len(value) >= HINT_MIN_LENGTH else ""


def masked(hint: str | None) -> str:
    """How a value is shown: ``••••`` followed by its hint."""
    return MASK + (hint or "")


async def set_variable(
    session: AsyncSession,
    keyring: Keyring,
    user_id: uuid.UUID,
    key: str,
    value: str,
    is_secret: bool,
) -> UserVariable:
    """Create or replace the user's variable ``key``; the value is stored encrypted."""
    check_key(key, ["input", "key"])
    check_value(value, ["input", "value"])
    return await repository.upsert_variable(
        session, user_id, key, keyring.encrypt(value), is_secret, last_four(value)
    )


async def delete_variable(session: AsyncSession, user_id: uuid.UUID, key: str) -> uuid.UUID:
    """Delete the user's variable ``key``; returns its id."""
    deleted = await repository.delete_variable(session, user_id, key)
    if deleted is None:
        raise NotFound("No such variable.", field=["key"])
    return deleted


async def set_workspace_secret(
    session: AsyncSession,
    keyring: Keyring,
    actor_id: uuid.UUID,
    workspace_id: uuid.UUID,
    key: str,
    value: str,
) -> WorkspaceSecret:
    """Create or replace a workspace secret (admins and owners)."""
    await require_role(session, workspace_id, actor_id, MemberRole.ADMIN)
    check_key(key, ["input", "key"])
    check_value(value, ["input", "value"])
    return await repository.upsert_secret(
        session, workspace_id, key, keyring.encrypt(value), last_four(value), actor_id
    )


async def delete_workspace_secret(
    session: AsyncSession, actor_id: uuid.UUID, workspace_id: uuid.UUID, key: str
) -> uuid.UUID:
    """Delete a workspace secret (admins and owners); returns its id."""
    await require_role(session, workspace_id, actor_id, MemberRole.ADMIN)
    deleted = await repository.delete_secret(session, workspace_id, key)
    if deleted is None:
        raise NotFound("No such secret.", field=["input", "key"])
    return deleted


async def resolve_provider_key(
    session: AsyncSession,
    keyring: Keyring,
    user_id: uuid.UUID | None,
    workspace_id: uuid.UUID | None,
    variable_name: str,
) -> tuple[str, ApiKeySource] | None:
    """The API key named ``variable_name`` in clear, and whose it is.

    The user's own variable wins, then the workspace's secret; None when neither is set
    (the caller falls back to the server-wide setting).
    """
    if user_id is not None:
        found = await repository.variable_ciphertext(session, user_id, variable_name)
        if found is not None:
            return keyring.decrypt(found), ApiKeySource.USER
    if workspace_id is not None:
        found = await repository.secret_ciphertext(session, workspace_id, variable_name)
        if found is not None:
            return keyring.decrypt(found), ApiKeySource.WORKSPACE
    return None
