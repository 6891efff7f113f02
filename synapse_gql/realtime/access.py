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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import suppress
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import WorkspaceMember
from synapse_gql.realtime.after_commit import publisher_for
from synapse_gql.realtime.broadcaster import Broadcaster
from synapse_gql.realtime.channels import user_access_channel
from synapse_gql.realtime.events import AccessChangedEvent
from synapse_gql.realtime.subscription import subscribe

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


async def _cancel(task: asyncio.Future[Any] | None) -> None:
    if task is None or task.done():
        return
    task.cancel()
    with suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
        await task


async def guarded(
    broadcaster: Broadcaster,
    user_id: uuid.UUID,
    recheck: Callable[[], Awaitable[F | None]],
    source: AsyncIterator[T],
) -> AsyncIterator[T | F]:
    """``source``'s items until ``user_id``'s rights change so that ``recheck`` returns a
    final event: that event is yielded and the stream ends (``source`` is closed).

    ``recheck`` runs only when access news for the user arrives, never per item.
    """
    async with subscribe(broadcaster, user_access_channel(user_id), AccessChangedEvent) as changes:
        item_task: asyncio.Future[T] | None = None
        change_task: asyncio.Future[AccessChangedEvent] | None = None
        try:
            # Once more now that news is heard: a change committed between the caller's
            # first check and this subscription would otherwise go unnoticed.
            final = await recheck()
            if final is not None:
                yield final
                return
            while True:
                item_task = item_task or asyncio.ensure_future(anext(source))
                change_task = change_task or asyncio.ensure_future(anext(changes))
                await asyncio.wait({item_task, change_task}, return_when=asyncio.FIRST_COMPLETED)
                if change_task.done():
                    change_task.result()  # the broadcaster closing ends the stream
                    change_task = None
                    final = await recheck()
                    if final is not None:
                        yield final
                        return
                if item_task is not None and item_task.done():
                    try:
                        item = item_task.result()
                    except StopAsyncIteration:
                        return
                    item_task = None
                    yield item
        except StopAsyncIteration:
            return
        finally:
            await _cancel(item_task)
            await _cancel(change_task)
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with suppress(Exception):
                    await aclose()
