"""Project mutations."""

from __future__ import annotations

from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import ProjectStatus
from synapse_gql.projects import service
from synapse_gql.projects.types import CreateProjectInput, ProjectType, UpdateProjectInput

ProjectResult = Annotated[ProjectType | UserError, strawberry.union("ProjectResult")]


@strawberry.type
class ProjectMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Create a project (members)."
    )
    async def create_project(self, info: Info, input: CreateProjectInput) -> ProjectResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        async with info.context.state.db.transaction() as session:
            row = await service.create_project(
                session, viewer.id, workspace_id, input.name, input.description
            )
        return ProjectType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Rename or describe a project."
    )
    async def update_project(self, info: Info, input: UpdateProjectInput) -> ProjectResult:
        viewer = info.context.require_viewer()
        project_id = decode_id(input.id, "Project", field=["input", "id"])
        changes = {
            k: getattr(input, k)
            for k in ("name", "description")
            if getattr(input, k) not in (strawberry.UNSET, None)
        }
        async with info.context.state.db.transaction() as session:
            row = await service.update_project(session, viewer.id, project_id, changes)
        return ProjectType.from_row(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Archive a project.")
    async def archive_project(self, info: Info, id: strawberry.ID) -> ProjectResult:
        return await _set_status(info, id, ProjectStatus.ARCHIVED)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Restore an archived project."
    )
    async def restore_project(self, info: Info, id: strawberry.ID) -> ProjectResult:
        return await _set_status(info, id, ProjectStatus.ACTIVE)


async def _set_status(info: Info, id: strawberry.ID, status: ProjectStatus) -> ProjectType:
    viewer = info.context.require_viewer()
    project_id = decode_id(id, "Project")
    async with info.context.state.db.transaction() as session:
        row = await service.set_status(session, viewer.id, project_id, status)
    return ProjectType.from_row(row)
