"""What partners running production integrations rely on: rate limits in query cost
points (and model calls) per minute, automatic persisted queries and trusted documents."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from synapse_gql.config import Settings
from synapse_gql.errors import ConfigurationError
from synapse_gql.operations.guard import OperationGuard, Operations
from synapse_gql.operations.manifest import load_manifest
from synapse_gql.operations.persisted import PersistedQueries, create_document_store
from synapse_gql.operations.rate_limit import RateLimits
from synapse_gql.operations.token_limits import TokenLimitCache
from synapse_gql.security.throttle import create_counter_store


def build_operations(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Operations:
    """The rate limits and persisted documents of ``settings``; a trusted-documents mode
    without a readable manifest is a ``ConfigurationError``."""
    manifest: dict[str, str] = {}
    if settings.trusted_documents_file is not None:
        manifest = load_manifest(settings.trusted_documents_file)
    elif settings.trusted_documents != "off":
        raise ConfigurationError(
            "SYNAPSE_TRUSTED_DOCUMENTS needs SYNAPSE_TRUSTED_DOCUMENTS_FILE (a manifest from"
            " `synapse-gql documents export`)."
        )
    store = create_document_store(
        settings.redis_url,
        settings.persisted_queries_max_documents,
        settings.persisted_queries_ttl_seconds,
    )
    limits = RateLimits(
        create_counter_store(settings.redis_url), settings, TokenLimitCache(sessions)
    )
    persisted = PersistedQueries(store, manifest, register=settings.trusted_documents != "only")
    return Operations(settings, limits, persisted)


__all__ = ["OperationGuard", "Operations", "build_operations"]
