"""Live usage: every metered call announced to its workspace's subscribers once committed.

The call pipeline's metering step queues a :class:`~synapse_gql.realtime.events.UsageEvent`
on the workspace's metrics channel in the metering transaction (published after the commit);
:func:`usage_events` yields the committed rows to a subscriber of the workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.gql.read_connection import ReadConnection
from synapse_gql.models import UsageLog
from synapse_gql.realtime import subscribe, workspace_metrics_channel
from synapse_gql.realtime.events import UsageEvent
from synapse_gql.state import AppState


async def usage_events(state: AppState, workspace_id: uuid.UUID) -> AsyncIterator[UsageLog]:
    """Each usage log of the workspace committed from now on, as it is announced."""
    channel = workspace_metrics_channel(workspace_id)
    # A connection per read, in autocommit: nothing is held between events.
    reads = ReadConnection(state.db.read_engine, hold=False)
    async with subscribe(state.realtime, channel, UsageEvent) as events:
        async for event in events:
            row = await reads.in_session(partial(_usage_log, event.usage_log_id))
            if row is not None and row.workspace_id == workspace_id:
                yield row


async def _usage_log(usage_log_id: uuid.UUID, session: AsyncSession) -> UsageLog | None:
    return await session.get(UsageLog, usage_log_id)
