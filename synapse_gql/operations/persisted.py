"""Automatic persisted queries, as Apollo Client sends them.

A request may carry ``extensions.persistedQuery = {version: 1, sha256Hash}``. With a hash
and no ``query``, the document registered under that hash runs; an unknown hash is
answered ``PERSISTED_QUERY_NOT_FOUND`` (Apollo Client then sends the hash with the full
query). A hash with a query registers the query under its hash, once the hash is checked.
Documents are kept in Redis when configured (shared by every process, expiring), else in
a bounded least-recently-used map. The trusted-documents manifest, when loaded, answers
its own ids too.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import Any, Protocol

from redis.asyncio import Redis

from synapse_gql.gql.http_request import RequestRefused
from synapse_gql.redis_clients import pooled_client

PREFIX = "synapse:apq"
HASH = re.compile(r"[0-9a-f]{64}")
NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


# Apollo's answer to an unknown hash: 200, never cached (a GET must not stay "not found").
NOT_FOUND_HEADERS = {"Cache-Control": "private, no-cache, must-revalidate"}


class PersistedQueryError(RequestRefused):
    """A persisted-query request that cannot run: answered as a GraphQL error."""


def document_hash(text: str) -> str:
    """The SHA-256 of ``text`` (UTF-8), in lower-case hex: a document's id."""
    return hashlib.sha256(text.encode()).hexdigest()


class DocumentStore(Protocol):
    """Documents by hash."""

    async def get(self, sha256: str) -> str | None:
        """The document registered under ``sha256``, or None."""

    async def put(self, sha256: str, document: str) -> None:
        """Register ``document`` under ``sha256``."""

    async def close(self) -> None:
        """Release connections."""


class MemoryDocumentStore:
    """At most ``size`` documents in process memory, least recently used out first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    async def put(self, sha256: str, document: str) -> None:
        self._documents[sha256] = document
        self._documents.move_to_end(sha256)
        while len(self._documents) > self._size:
            self._documents.popitem(last=False)

    async def close(self) -> None:
        self._documents.clear()


class RedisDocumentStore:
    """Documents in Redis, each expiring ``ttl`` seconds after its last registration."""

    def __init__(self, url: str, ttl: int) -> None:
        self._redis: Redis = pooled_client(url, "synapse-gql-documents")
        self._ttl = ttl

    async def get(self, sha256: str) -> str | None:
        value = await self._redis.get(f"{PREFIX}:{sha256}")
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else value

    async def put(self, sha256: str, document: str) -> None:
        await self._redis.set(f"{PREFIX}:{sha256}", document, ex=self._ttl)

    async def close(self) -> None:
        await self._redis.aclose()


def create_document_store(redis_url: str | None, size: int, ttl: int) -> DocumentStore:
    """Redis when a URL is configured, else process memory."""
    return RedisDocumentStore(redis_url, ttl) if redis_url else MemoryDocumentStore(size)


def persisted_hash(data: dict[str, Any]) -> str | None:
    """The hash of ``extensions.persistedQuery``, None when the request has none."""
    extensions = data.get("extensions")
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(
            400, "Only `persistedQuery` version 1 is supported.", "PERSISTED_QUERY_NOT_SUPPORTED"
        )
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not HASH.fullmatch(sha256):
        raise PersistedQueryError(
            400,
            "`persistedQuery.sha256Hash` must be 64 lower-case hex digits.",
            "PERSISTED_QUERY_HASH_MISMATCH",
        )
    return sha256


class PersistedQueries:
    """Resolves the document of a request from its ``persistedQuery`` extension."""

    def __init__(self, store: DocumentStore, manifest: dict[str, str], register: bool) -> None:
        self.store = store
        self.manifest = manifest
        # With trusted documents only, the manifest is the whole registry: nothing is added.
        self.register = register

    async def resolve(self, data: Any) -> Any:
        """``data`` with its ``query`` filled in from the hash; registers a new document."""
        if not isinstance(data, dict):
            return data
        sha256 = persisted_hash(data)
        if sha256 is None:
            return data
        query = data.get("query")
        if isinstance(query, str):
            await self._register(sha256, query)
            return data
        document = self.manifest.get(sha256) or await self.store.get(sha256)
        if document is None:
            raise PersistedQueryError(200, "PersistedQueryNotFound", NOT_FOUND, NOT_FOUND_HEADERS)
        return {**data, "query": document}

    async def _register(self, sha256: str, query: str) -> None:
        if document_hash(query) != sha256:
            raise PersistedQueryError(
                400,
                "The `persistedQuery.sha256Hash` is not the SHA-256 of the query.",
                "PERSISTED_QUERY_HASH_MISMATCH",
            )
        if self.register and sha256 not in self.manifest:
            await self.store.put(sha256, query)

    async def close(self) -> None:
        await self.store.close()
