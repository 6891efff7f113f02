"""The interface every provider adapter implements, and the timeouts they share."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from synapse_gql.llm.types import (
    ChatMessage,
    GenerationParams,
    StreamEnd,
    TokenDelta,
    UsageReport,
)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait: for the connection, for the first generated token, for the whole call."""

    connect: float = 10.0
    first_token: float = 60.0
    total: float = 600.0


@runtime_checkable
class Provider(Protocol):
    """A model host: streams or completes a chat, raising only ``ProviderError``.

    ``api_key`` is the caller's key for the host; ``None`` means the adapter's default
    (its SDK's environment variable, or no key for hosts that need none).
    """

    name: str

    def stream(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        api_key: str | None,
    ) -> AsyncGenerator[TokenDelta | StreamEnd | UsageReport, None]:
        """Yield the reply as ``TokenDelta`` events (with a ``UsageReport`` whenever the host
        reports counts), then exactly one ``StreamEnd``."""
        ...

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        params: GenerationParams,
        *,
        api_key: str | None,
    ) -> tuple[str, StreamEnd]:
        """Return the whole reply and how it ended, without streaming."""
        ...

    async def aclose(self) -> None:
        """Release the connections the adapter holds."""
        ...
