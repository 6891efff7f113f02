"""``node`` resolution of message feedback."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from synapse_gql.context import Info
from synapse_gql.feedback import repository
from synapse_gql.feedback.types import FeedbackType
from synapse_gql.gql.relay import register_node
from synapse_gql.workspaces.access import viewer_role


async def _feedback(info: Info, ids: Sequence[uuid.UUID]) -> list[FeedbackType | None]:
    async with info.context.sessions() as session:
        rows = (await session.execute(repository.with_workspace(ids))).all()
    roles = await asyncio.gather(*(viewer_role(info, workspace) for _, workspace in rows))
    found = {row.id: row for (row, _), role in zip(rows, roles, strict=True) if role is not None}
    return [None if i not in found else FeedbackType.from_row(found[i]) for i in ids]


register_node("MessageFeedback", _feedback)
