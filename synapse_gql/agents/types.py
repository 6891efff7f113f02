"""GraphQL types of agents."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import strawberry
from strawberry.scalars import JSON

from synapse_gql.accounts.types import UserType
from synapse_gql.catalog.types import LLMType
from synapse_gql.context import Info
from synapse_gql.gql.refs import ProjectRef, WorkspaceRef, load_object
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import LLM, Agent, AgentStatus

if TYPE_CHECKING:
    pass

AgentStatusType = strawberry.enum(AgentStatus, name="AgentStatus")


async def load_llm(info: Info, llm_id: uuid.UUID | None) -> LLMType | None:
    """A catalog model by database id (batched), None for None."""
    if llm_id is None:
        return None
    return await load_object(info, LLM, llm_id, LLMType.from_row)


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
            parameters=row.parameters,
            status=row.status,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceRef | None:
        from synapse_gql.models import Workspace
        from synapse_gql.workspaces.types import WorkspaceType

        return await load_object(info, Workspace, self.workspace_id, WorkspaceType.from_row)

    @strawberry.field
    async def project(self, info: Info) -> ProjectRef | None:
        from synapse_gql.models import Project
        from synapse_gql.projects.types import ProjectType

        if self.project_id is None:
            return None
        return await load_object(info, Project, self.project_id, ProjectType.from_row)

    @strawberry.field(description="The model the agent calls.")
    async def llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.llm_id)

    @strawberry.field(description="The model called when the main one fails.")
    async def fallback_llm(self, info: Info) -> LLMType | None:
        return await load_llm(info, self.fallback_llm_id)

    @strawberry.field
    async def created_by(self, info: Info) -> UserType | None:
        from synapse_gql.workspaces.types import load_user

        return await load_user(info, self.created_by_id)


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
