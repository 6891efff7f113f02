"""Which API key pays for a provider call: the caller's own variable, else the workspace's
secret, else the server-wide setting; the built-in mock needs none. Which variable and
which setting hold a provider's key is declared by its registration
(:mod:`synapse_gql.llm.registration`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.config import Settings
from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.llm import MOCK_PROVIDER, key_variable, settings_key
from synapse_gql.models import ApiKeySource
from synapse_gql.security.keys import Keyring
from synapse_gql.variables.service import resolve_provider_key


@dataclass(frozen=True, slots=True)
class ResolvedKey:
    """The key in clear (None for the mock) and whose it is."""

    value: str | None
    source: ApiKeySource


def global_key(settings: Settings, provider: str) -> str | None:
    """The server-wide key of ``provider`` (its registered settings field), if set."""
    field = settings_key(provider)
    if field is None:
        return None
    secret: SecretStr | str | None = getattr(settings, field, None)
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return value or None


def missing_key(provider: str, field: Sequence[str]) -> DomainError:
    """API_KEY_MISSING, naming the variable to set."""
    variable = key_variable(provider)
    return DomainError(
        f"No API key for {provider}. Set {variable} as your variable, as a workspace secret,"
        f" or SYNAPSE_{variable} on the server.",
        field=field,
        code=ErrorCode.API_KEY_MISSING,
    )


async def resolve_key(
    session: AsyncSession,
    keyring: Keyring,
    settings: Settings,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    provider: str,
    *,
    field: Sequence[str] = ("input", "model"),
) -> ResolvedKey:
    """The key a call of ``provider`` uses; API_KEY_MISSING when a real provider has none.

    The mock ignores keys, so none is looked up for it (source NONE).
    """
    if provider == MOCK_PROVIDER:
        return ResolvedKey(None, ApiKeySource.NONE)
    found = await resolve_provider_key(
        session, keyring, user_id, workspace_id, key_variable(provider)
    )
    if found is not None:
        return ResolvedKey(*found)
    value = global_key(settings, provider)
    if value is not None:
        return ResolvedKey(value, ApiKeySource.GLOBAL)
    raise missing_key(provider, field)
