"""One subscription served by the hub: where its frames go and how far it has read."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graphql.execution import Executor

from synapse_gql.errors import DomainError
from synapse_gql.gql.errors import SubscriptionRefused
from synapse_gql.realtime.fanout.payloads import (
    encode_result,
    execute_event,
    failure_payload,
    frame_prefix,
)
from synapse_gql.realtime.fanout.writer import SocketWriter

ViewerKey = tuple[uuid.UUID, str]


@dataclass(eq=False)
class Subscriber:
    """A subscription of one socket to a feed, from ``after`` on.

    ``executor`` is its group's; ``check`` re-runs the subscription's access check
    (``DomainError`` when refused); ``position`` is the index of the next feed item.
    """

    writer: SocketWriter
    operation_id: str
    message_type: str
    after: int
    context: Any
    executor: Executor
    check: Callable[[], Awaitable[Any]]
    position: int = 0
    active: bool = True
    prefix: str = field(init=False)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.prefix = frame_prefix(self.operation_id, self.message_type)

    @property
    def viewer_key(self) -> ViewerKey:
        """Whose rights shape viewer-dependent fields (the end's ``usage``)."""
        viewer = self.context.viewer
        return viewer.id, viewer.via

    def send(self, payload: str) -> None:
        """Queue one data frame carrying ``payload`` (JSON text)."""
        if self.active:
            self.writer.send(self.prefix + payload + "}")

    def finish(self) -> None:
        """No more frames: the operation completes."""
        self.active = False
        self.done.set()

    async def refuse(self, error: DomainError) -> None:
        """End with the ``SubscriptionRefused`` event of ``error``."""
        if not self.active:
            return
        event = SubscriptionRefused.from_exception(error)
        result = await execute_event(self.executor, event, self.context)
        self.send(encode_result(result))
        self.finish()

    def fail(self, error: Exception) -> None:
        """End with ``error``, masked."""
        self.send(failure_payload(error))
        self.finish()
