"""The ``agents`` field, made once for workspaces and projects."""

from __future__ import annotations

from typing import Any, Literal

import strawberry

from synapse_gql.agents.types import AgentStatusType
from synapse_gql.context import Info
from synapse_gql.gql.pagination import Connection, PageArgs
from synapse_gql.gql.refs import AgentRef
from synapse_gql.models import AgentStatus


def agents_field(scope: Literal["workspace", "project"], description: str) -> Any:
    """``agents(status, first, after, last, before)`` of the ``scope`` object (batched)."""

    async def agents(
        root: Any,
        info: Info,
        status: AgentStatusType | None = AgentStatus.ACTIVE,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AgentRef]:
        from synapse_gql.agents.queries import agent_connection

        args = PageArgs(first, after, last, before)
        return await agent_connection(info, scope, root.db_id, status, args)

    return strawberry.field(resolver=agents, description=description)
