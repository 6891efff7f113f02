"""Reads of agents for the other features: an agent by id, batched per request.

The loader hands out ``Agent`` rows; the feature's GraphQL types turn them into nodes.
Rows come from the request's shared ``by_id(Agent)`` batch, so every field that shows
agents (whichever feature's type it sits on) reads them in one statement.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from synapse_gql.models import Agent

if TYPE_CHECKING:
    from synapse_gql.context import Info


class AgentLoader:
    """Agents of a request by database id (batched)."""

    def __init__(self, info: Info) -> None:
        self.loaders = info.context.loaders

    async def one(self, agent_id: uuid.UUID | None) -> Agent | None:
        """The agent row, for a parent the caller was allowed to read; None for None or
        a missing id."""
        if agent_id is None:
            return None
        row: Agent | None = await self.loaders.by_id(Agent).load(agent_id)
        return row
