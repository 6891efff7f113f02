"""Agent mutations."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from synapse_gql.agents import service
from synapse_gql.agents.types import AgentType, CreateAgentInput, UpdateAgentInput
from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import AgentStatus

AgentResult = Annotated[AgentType | UserError, strawberry.union("AgentResult")]

# Input attribute -> the global ID type it holds.
ID_FIELDS = {"llm_id": "LLM", "fallback_llm_id": "LLM", "project_id": "Project"}
CLEARABLE = {"fallback_llm_id", "project_id", "temperature", "max_tokens", "top_p"}


def _decoded(key: str, value: Any) -> Any:
    if key not in ID_FIELDS or value is None:
        return value
    return decode_id(value, ID_FIELDS[key], field=["input", service.FIELDS[key]])


def _values(input: Any) -> dict[str, Any]:
    """Model attribute -> decoded value, for the fields the client sent.

    ``null`` clears the optional settings and leaves the required ones unchanged.
    """
    values = {}
    for key in service.FIELDS:
        value = getattr(input, key, strawberry.UNSET)
        if value is strawberry.UNSET or (value is None and key not in CLEARABLE):
            continue
        values[key] = _decoded(key, value)
    return values


@strawberry.type
class AgentMutation:
    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Create an agent (members).")
    async def create_agent(self, info: Info, input: CreateAgentInput) -> AgentResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        values = _values(input)
        async with info.context.state.db.transaction() as session:
            row = await service.create_agent(session, viewer.id, workspace_id, values)
        return AgentType.from_row(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Change an agent (members).")
    async def update_agent(self, info: Info, input: UpdateAgentInput) -> AgentResult:
        viewer = info.context.require_viewer()
        agent_id = decode_id(input.id, "Agent", field=["input", "id"])
        values = _values(input)
        async with info.context.state.db.transaction() as session:
            row = await service.update_agent(session, viewer.id, agent_id, values)
        return AgentType.from_row(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Archive an agent.")
    async def archive_agent(self, info: Info, id: strawberry.ID) -> AgentResult:
        return await _set_status(info, id, AgentStatus.ARCHIVED)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Restore an archived agent.")
    async def restore_agent(self, info: Info, id: strawberry.ID) -> AgentResult:
        return await _set_status(info, id, AgentStatus.ACTIVE)


async def _set_status(info: Info, id: strawberry.ID, status: AgentStatus) -> AgentType:
    viewer = info.context.require_viewer()
    agent_id = decode_id(id, "Agent")
    async with info.context.state.db.transaction() as session:
        row = await service.set_status(session, viewer.id, agent_id, status)
    return AgentType.from_row(row)
