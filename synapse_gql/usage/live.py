"""Live usage: every metered call announced to its workspace's subscribers once committed.

Publishers call :func:`announce_usage` after the transaction that wrote the usage logs;
:func:`usage_events` yields the committed rows to a subscriber of the workspace.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable

from synapse_gql.models import UsageLog
from synapse_gql.realtime import publish_quietly, workspace_metrics_channel
from synapse_gql.state import AppState

USAGE = "usage"


async def announce_usage(
    state: AppState, workspace_id: uuid.UUID, usage_log_ids: Iterable[uuid.UUID]
) -> None:
    """Tell the workspace's subscribers about committed usage logs."""
    channel = workspace_metrics_channel(workspace_id)
    await publish_quietly(
        state.realtime,
        [(channel, json.dumps({"type": USAGE, "usageLogId": str(i)})) for i in usage_log_ids],
    )


def _usage_log_id(payload: str) -> uuid.UUID | None:
    try:
        data = json.loads(payload)
        return uuid.UUID(data["usageLogId"]) if data.get("type") == USAGE else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


async def usage_events(state: AppState, workspace_id: uuid.UUID) -> AsyncIterator[UsageLog]:
    """Each usage log of the workspace committed from now on, as it is announced."""
    async with state.realtime.subscribe(workspace_metrics_channel(workspace_id)) as subscription:
        async for payload in subscription:
            usage_log_id = _usage_log_id(payload)
            if usage_log_id is None:
                continue
            async with state.db.sessions() as session:
                row = await session.get(UsageLog, usage_log_id)
            if row is not None and row.workspace_id == workspace_id:
                yield row
