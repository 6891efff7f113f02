"""Agent listing and ``node`` resolution."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Literal

from synapse_gql.agents.types import AgentType
from synapse_gql.context import Info
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.relay import register_node
from synapse_gql.models import Agent, AgentStatus
from synapse_gql.workspaces.access import visible_rows

PARENTS = {"workspace": Agent.workspace_id, "project": Agent.project_id}


def _agent_list(scope: Literal["workspace", "project"], status: AgentStatus | None) -> ChildList:
    return ChildList(
        name=("agents", scope, status),
        model=Agent,
        parent=PARENTS[scope],
        key=SortKey(Agent.created_at, Agent.id),
        where=[] if status is None else [Agent.status == status],
    )


async def agent_connection(
    info: Info,
    scope: Literal["workspace", "project"],
    parent_id: uuid.UUID,
    status: AgentStatus | None,
    args: PageArgs,
) -> Connection[AgentType]:
    """Agents of a workspace or project the caller may read, newest first (batched)."""
    spec = _agent_list(scope, status)
    return await child_connection(info, spec, parent_id, args, AgentType.from_row)


async def _agents(info: Info, ids: Sequence[uuid.UUID]) -> list[AgentType | None]:
    rows = await visible_rows(info, Agent, ids)
    return [None if r is None else AgentType.from_row(r) for r in rows]


register_node("Agent", _agents)
