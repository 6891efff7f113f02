"""GraphQL types of projects."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.agents.fields import agents_field
from synapse_gql.analytics.fields import usage_summary_field
from synapse_gql.context import Info
from synapse_gql.conversations.fields import conversations_field
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.refs import WorkspaceRef
from synapse_gql.gql.relay import Node, to_global_id
from synapse_gql.models import Project, ProjectStatus
from synapse_gql.projects.loaders import ProjectLoader
from synapse_gql.tags.fields import tags_field

strawberry.enum(ProjectStatus, name="ProjectStatus")
ProjectStatusType = ProjectStatus


@strawberry.type(name="Project", description="A grouping of agents and conversations.")
class ProjectType(Node):
    agents = agents_field("project", "Agents of the project, newest first; active unless `status`.")
    conversations = conversations_field(
        "project", "Conversations of the project, filtered like the workspace's."
    )
    usage_summary = usage_summary_field("project")
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
        from synapse_gql.workspaces.types import load_workspace

        return await load_workspace(info, self.workspace_id)

    @strawberry.field
    async def created_by(self, info: Info) -> UserType | None:
        return await load_user(info, self.created_by_id)

    tags = tags_field("project", "Tags on the project, by name.")


async def load_project(info: Info, project_id: uuid.UUID | None) -> ProjectType | None:
    """A project by database id (batched), None for None or a missing id."""
    row = await ProjectLoader(info).one(project_id)
    return None if row is None else ProjectType.from_row(row)


def _project_list(include_archived: bool) -> ChildList:
    where = [] if include_archived else [Project.status == ProjectStatus.ACTIVE]
    return ChildList(
        name=("projects", include_archived),
        model=Project,
        parent=Project.workspace_id,
        key=SortKey(Project.created_at, Project.id),
        where=where,
    )


async def project_connection(
    info: Info, workspace_id: uuid.UUID, include_archived: bool, args: PageArgs
) -> Connection[ProjectType]:
    """Projects of a workspace the caller already may read (batched across workspaces)."""
    spec = _project_list(include_archived)
    return await child_connection(info, spec, workspace_id, args, ProjectType.from_row)


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
