"""Step four of a call: once its closing transaction committed, announce it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.realtime import publisher_for
from synapse_gql.state import AppState


async def announce(state: AppState, session: AsyncSession) -> None:
    """Publish what ``session``'s committed transaction queued (usage, finished, added ...)
    and return once it is out; nothing when it rolled back."""
    await publisher_for(state.realtime).sent(session)
