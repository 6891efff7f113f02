"""Rights that change while a subscription is open.

A mutation that can take rights away (removing a member, changing a role, deleting a
workspace, revoking an API token) calls :func:`announce_access_change` inside its
transaction: after the commit, and only then, every affected user's
:func:`~synapse_gql.realtime.channels.user_access_channel` hears ``access-changed``.

Every process holding that user's subscriptions or sockets is subscribed to the channel
(one backend subscription per channel per process, shared by all local holders), so the
news crosses processes through Redis when it is configured.

:func:`guarded` runs a subscription's events and re-checks the subscription's rights when,
and only when, such news arrives: a delta costs no query; a subscription that no longer
passes ends with the final event its check returns.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import suppress
from typing import Generic, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import WorkspaceMember
from synapse_gql.realtime.after_commit import publisher_for
from synapse_gql.realtime.broadcaster import Broadcaster
from synapse_gql.realtime.channels import user_access_channel
from synapse_gql.realtime.events import AccessChangedEvent, decode
from synapse_gql.realtime.subscription import Subscription

T = TypeVar("T")
F = TypeVar("F")


def announce_access_change(
    broadcaster: Broadcaster, session: AsyncSession, user_ids: Iterable[uuid.UUID], reason: str
) -> None:
    """After ``session`` commits, tell each user's holders to re-check; dropped on rollback."""
    publisher = publisher_for(broadcaster)
    event = AccessChangedEvent(reason=reason)
    for user_id in dict.fromkeys(user_ids):
        publisher.publish(session, user_access_channel(user_id), event)


async def announce_workspace_access_change(
    broadcaster: Broadcaster, session: AsyncSession, workspace_id: uuid.UUID, reason: str
) -> None:
    """:func:`announce_access_change` for every member of the workspace (read now: call it
    before the members are deleted)."""
    stmt = select(WorkspaceMember.user_id).where(WorkspaceMember.workspace_id == workspace_id)
    announce_access_change(broadcaster, session, list(await session.scalars(stmt)), reason)


class _Handoff(Generic[T]):
    """The items of ``source``, read by one task for the whole subscription and handed
    over one at a time (no task per item); ``wakeup`` is set for an item or the end."""

    def __init__(self, source: AsyncIterator[T], wakeup: asyncio.Event) -> None:
        self.source = source
        self.wakeup = wakeup
        self.items: deque[T] = deque()
        self.ended = False
        self.error: Exception | None = None
        self._taken = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for item in self.source:
                self._taken.clear()
                self.items.append(item)
                self.wakeup.set()
                await self._taken.wait()
        except Exception as exc:
            self.error = exc
        finally:
            self.ended = True
            self.wakeup.set()

    def take(self) -> T:
        """The item read; the reader goes on to the next."""
        item = self.items.popleft()
        self._taken.set()
        return item

    async def stop(self) -> None:
        """Stop reading (the caller closes ``source``)."""
        self.task.cancel()
        with suppress(asyncio.CancelledError, Exception):
            await self.task


async def _close(source: AsyncIterator[object]) -> None:
    aclose = getattr(source, "aclose", None)
    if aclose is not None:
        with suppress(Exception):
            await aclose()


def _access_news(changes: Subscription) -> bool:
    """True when ``changes`` buffered access news; raises when it was dropped for falling
    behind, and returns False (ending nothing) otherwise."""
    news = any(isinstance(decode(m), AccessChangedEvent) for m in changes.take_buffered())
    if changes.error is not None:
        raise changes.error
    return news


async def guarded(
    broadcaster: Broadcaster,
    user_id: uuid.UUID,
    recheck: Callable[[], Awaitable[F | None]],
    source: AsyncIterator[T],
) -> AsyncIterator[T | F]:
    """``source``'s items until ``user_id``'s rights change so that ``recheck`` returns a
    final event: that event is yielded and the stream ends (``source`` is closed). The
    stream also ends when the broadcaster closes.

    ``recheck`` runs only when access news for the user arrives, never per item; one task
    reads ``source`` for the whole subscription (none is created per item).
    """
    async with broadcaster.subscribe(user_access_channel(user_id)) as changes:
        handoff: _Handoff[T] | None = None
        try:
            # Once more now that news is heard: a change committed between the caller's
            # first check and this subscription would otherwise go unnoticed.
            final = await recheck()
            if final is not None:
                yield final
                return
            wakeup = asyncio.Event()
            changes.listener = wakeup.set
            handoff = _Handoff(source, wakeup)
            while True:
                await wakeup.wait()
                wakeup.clear()
                if _access_news(changes):
                    final = await recheck()
                    if final is not None:
                        yield final
                        return
                if not changes.active and not changes.pending:
                    return  # the broadcaster closed
                while handoff.items:
                    yield handoff.take()
                if handoff.ended and not handoff.items:
                    if handoff.error is not None:
                        raise handoff.error
                    return
        finally:
            changes.listener = None
            if handoff is not None:
                await handoff.stop()
            await _close(source)
