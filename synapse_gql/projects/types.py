"""GraphQL types of projects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from synapse_gql.accounts.types import UserType
from synapse_gql.agents.fields import agents_field
from synapse_gql.context import Info
from synapse_gql.conversations.fields import conversations_field
from synapse_gql.gql.refs import TagRef, WorkspaceRef, load_object
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import Project, ProjectStatus

if TYPE_CHECKING:
    pass

ProjectStatusType = strawberry.enum(ProjectStatus, name="ProjectStatus")


@strawberry.type(name="Project", description="A grouping of agents and conversations.")
class ProjectType(Node):
    agents = agents_field("project", "Agents of the project, newest first; active unless `status`.")
    conversations = conversations_field(
        "project", "Conversations of the project, filtered like the workspace's."
    )
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    created_by_id: strawberry.Private[uuid.UUID | None]
    name: str
    description: str
    status: ProjectStatusType
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Project) -> ProjectType:
        return cls(
            id=to_global_id("Project", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            created_by_id=row.created_by_id,
            name=row.name,
            description=row.description,
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
    async def created_by(self, info: Info) -> UserType | None:
        from synapse_gql.workspaces.types import load_user

        return await load_user(info, self.created_by_id)

    @strawberry.field(description="Tags on the project, by name.")
    async def tags(self, info: Info) -> list[TagRef]:
        from synapse_gql.tags.queries import tags_of

        return await tags_of(info, "project", self.db_id)


@strawberry.input
class CreateProjectInput:
    workspace_id: strawberry.ID
    name: str
    description: str = ""


@strawberry.input
class UpdateProjectInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
