"""GraphQL types of projects."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from synapse_gql.accounts.types import UserType
from synapse_gql.context import Info
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import Project, ProjectStatus

if TYPE_CHECKING:
    from synapse_gql.workspaces.types import WorkspaceType

ProjectStatusType = strawberry.enum(ProjectStatus, name="ProjectStatus")
WorkspaceRef = Annotated["WorkspaceType", strawberry.lazy("synapse_gql.workspaces.types")]


@strawberry.type(name="Project", description="A grouping of agents and conversations.")
class ProjectType(Node):
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

        row = await info.context.loaders.by_id(Workspace).load(self.workspace_id)
        return None if row is None else WorkspaceType.from_row(row)

    @strawberry.field
    async def created_by(self, info: Info) -> UserType | None:
        from synapse_gql.workspaces.types import load_user

        return await load_user(info, self.created_by_id)


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
