"""Subscriptions under the same rights as queries, for as long as they run.

:func:`watched` runs a subscription's GraphQL events through
:func:`~synapse_gql.realtime.access.guarded` with the subscription's own access check:
when the viewer's rights change and the check fails, the subscription's last event is a
``SubscriptionRefused`` with the same code and message the check gives over HTTP. A
re-check waits for its turn like a set-up (``realtime.admission``): news reaching many
subscriptions at once does not ask the pool for a connection each at the same moment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from synapse_gql.context import Info
from synapse_gql.errors import DomainError
from synapse_gql.gql.errors import SubscriptionRefused
from synapse_gql.realtime.access import guarded
from synapse_gql.realtime.admission import subscribe_slot

T = TypeVar("T")


def watched(
    info: Info, check: Callable[[], Awaitable[object]], events: AsyncIterator[T]
) -> AsyncIterator[T | SubscriptionRefused]:
    """``events`` while ``check`` (raising ``DomainError`` when refused) passes; it runs
    again only when access news for the viewer arrives."""
    viewer = info.context.require_viewer()

    async def recheck() -> SubscriptionRefused | None:
        info.context.refresh_loaders()  # roles cached by the loaders may be stale now
        try:
            async with subscribe_slot(info.context.state):
                await check()
        except DomainError as error:
            return SubscriptionRefused.from_exception(error)
        return None

    return guarded(info.context.state.realtime, viewer.id, recheck, events)
