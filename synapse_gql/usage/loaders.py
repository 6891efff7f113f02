"""Reads of usage logs for the other features: a log by id, batched per request.

The loader hands out ``UsageLog`` rows; the feature's GraphQL type turns them into nodes.
Rows come from the request's shared ``by_id(UsageLog)`` batch, so every field that shows
a usage log (a billing event's, a generation's) reads them in one statement.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from synapse_gql.models import UsageLog

if TYPE_CHECKING:
    from synapse_gql.context import Info


class UsageLogLoader:
    """Usage logs of a request by database id (batched)."""

    def __init__(self, info: Info) -> None:
        self.loaders = info.context.loaders

    async def one(self, usage_log_id: uuid.UUID | None) -> UsageLog | None:
        """The usage log row, for a parent the caller was allowed to read; None for None
        or a missing id."""
        if usage_log_id is None:
            return None
        row: UsageLog | None = await self.loaders.by_id(UsageLog).load(usage_log_id)
        return row
