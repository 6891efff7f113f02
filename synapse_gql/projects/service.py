"""Project rules: members and above create and edit, viewers only read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.errors import NotFound
from synapse_gql.gql import validation
from synapse_gql.models import MemberRole, Project, ProjectStatus
from synapse_gql.workspaces.access import require_role


async def create_project(
    session: AsyncSession, actor_id: uuid.UUID, workspace_id: uuid.UUID, name: str, description: str
) -> Project:
    """A new active project in ``workspace_id``."""
    await require_role(session, workspace_id, actor_id, MemberRole.MEMBER)
    project = Project(
        workspace_id=workspace_id,
        name=validation.text(name, ["input", "name"]),
        description=validation.text(description, ["input", "description"], min_len=0, max_len=5000),
        status=ProjectStatus.ACTIVE,
        created_by_id=actor_id,
    )
    session.add(project)
    await session.flush()
    return project


async def _editable(
    session: AsyncSession, actor_id: uuid.UUID, project_id: uuid.UUID, field: Sequence[str]
) -> Project:
    project = await session.get(Project, project_id, with_for_update=True)
    if project is None:
        raise NotFound("No such project.", field=field)
    await require_role(
        session, project.workspace_id, actor_id, MemberRole.MEMBER, field=field, what="project"
    )
    return project


async def update_project(
    session: AsyncSession, actor_id: uuid.UUID, project_id: uuid.UUID, changes: dict[str, Any]
) -> Project:
    """Rename or describe a project."""
    project = await _editable(session, actor_id, project_id, ("input", "id"))
    if "name" in changes:
        project.name = validation.text(changes["name"], ["input", "name"])
    if "description" in changes:
        project.description = validation.text(
            changes["description"], ["input", "description"], min_len=0, max_len=5000
        )
    await session.flush()
    return project


async def set_status(
    session: AsyncSession, actor_id: uuid.UUID, project_id: uuid.UUID, status: ProjectStatus
) -> Project:
    """Archive or restore a project."""
    project = await _editable(session, actor_id, project_id, ("id",))
    project.status = status
    await session.flush()
    return project
