"""GraphQL types of agents."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry.scalars import JSON

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.agents.loaders import AgentLoader
from synapse_gql.catalog.types import LLMType
from synapse_gql.catalog.types import load_llm as load_llm
from synapse_gql.context import Info
from synapse_gql.gql.refs import ProjectRef, WorkspaceRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import Agent, AgentStatus

strawberry.enum(AgentStatus, name="AgentStatus")
AgentStatusType = AgentStatus


@strawberry.type(
    name="Agent", description="A system prompt with an LLM and its sampling parameters."
)
class AgentType(Node):
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    project_id: strawberry.Private[uuid.UUID | None]
    llm_id: strawberry.Private[uuid.UUID]
    fallback_llm_id: strawberry.Private[uuid.UUID | None]
    created_by_id: strawberry.Private[uuid.UUID | None]
    name: str
    description: str
    system_prompt: str
    temperature: Decimal | None
    max_tokens: int | None
    top_p: Decimal | None
    parameters: JSON = strawberry.field(description="Further provider parameters (a JSON object).")
    status: AgentStatusType
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Agent) -> AgentType:
        return cls(
            id=to_global_id("Agent", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            project_id=row.project_id,
            llm_id=row.llm_id,
            fallback_llm_id=row.fallback_llm_id,
            created_by_id=row.created_by_id,
            name=row.name,
            description=row.description,
            system_prompt=row.system_prompt,
            temperature=row.temperature,
            max_tokens=row.max_tokens,
            top_p=row.top_p,
            parameters=JSON(row.parameters),
            status=row.status,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        from synapse_gql.workspaces.types import load_workspace

        return await load_workspace(info, self.workspace_id)

    @strawberry.field
    async def project(self, info: Info) -> ProjectRef | None:
        from synapse_gql.projects.types import load_project

        return await load_project(info, self.project_id)

    @strawberry.field(description="The model the agent calls.")
    async def llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.llm_id)

    @strawberry.field(description="The model called when the main one fails.")
    async def fallback_llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.fallback_llm_id)

    @strawberry.field
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.created_by_id)


async def load_agent(info: Info, agent_id: uuid.UUID | None) -> AgentType | None:
    """An agent by database id (batched), None for None or a missing id."""
    row = await AgentLoader(info).one(agent_id)
    return None if row is None else AgentType.from_row(row)


@strawberry.input(description="A new agent; unset sampling parameters use the model's defaults.")
class CreateAgentInput:
    workspace_id: strawberry.ID
    name: str
    llm_id: strawberry.ID
    project_id: strawberry.ID | None = None
    description: str = ""
    system_prompt: str = ""
    fallback_llm_id: strawberry.ID | None = None
    temperature: Decimal | None = strawberry.field(
        default=None, description="0 to 2, rounded to hundredths."
    )
    max_tokens: int | None = strawberry.field(
        default=None, description="1 to the model's maxOutputTokens."
    )
    top_p: Decimal | None = strawberry.field(default=None, description="Above 0, at most 1.")
    parameters: JSON = strawberry.field(
        default_factory=dict, description="A JSON object of at most 16 KB."
    )


@strawberry.input(description="Agent changes: omitted fields stay, null clears optional ones.")
class UpdateAgentInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    system_prompt: str | None = strawberry.UNSET
    llm_id: strawberry.ID | None = strawberry.UNSET
    fallback_llm_id: strawberry.ID | None = strawberry.UNSET
    project_id: strawberry.ID | None = strawberry.UNSET
    temperature: Decimal | None = strawberry.UNSET
    max_tokens: int | None = strawberry.UNSET
    top_p: Decimal | None = strawberry.UNSET
    parameters: JSON | None = strawberry.UNSET
