"""Demo data for ``serve --demo``: a user, a workspace, a project and an agent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.accounts import repository as accounts
from synapse_gql.accounts import service as account_service
from synapse_gql.catalog import repository as catalog
from synapse_gql.catalog.seed_data import DEV_MODEL_ID, MOCK_PROVIDER
from synapse_gql.db import Database
from synapse_gql.models import Agent, AgentStatus, Project, Workspace
from synapse_gql.projects import service as projects
from synapse_gql.workspaces import service as workspaces

DEMO_EMAIL = "demo@synapse.local"
DEMO_PASSWORD = "synapse-demo"
DEMO_SLUG = "demo"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    workspace_slug: str


async def ensure_demo(db: Database) -> DemoLogin:
    """Create the demo objects that are missing; running it twice changes nothing."""
    async with db.transaction() as session:
        user = await accounts.user_by_email(session, DEMO_EMAIL)
        if user is None:
            prepared = await account_service.prepare_registration(
                DEMO_EMAIL, "Demo User", DEMO_PASSWORD
            )
            user = await account_service.register(session, prepared)
        workspace = await session.scalar(select(Workspace).where(Workspace.slug == DEMO_SLUG))
        if workspace is None:
            workspace = await workspaces.create_workspace(
                session, user.id, "Demo workspace", DEMO_SLUG, "Try Synapse GQL here."
            )
        await _ensure_project_and_agent(session, user.id, workspace)
    return DemoLogin(DEMO_EMAIL, DEMO_PASSWORD, DEMO_SLUG)


async def _ensure_project_and_agent(
    session: AsyncSession, user_id: uuid.UUID, workspace: Workspace
) -> None:
    project = await session.scalar(select(Project).where(Project.workspace_id == workspace.id))
    if project is None:
        project = await projects.create_project(
            session, user_id, workspace.id, "Getting started", "A first project."
        )
    agent = await session.scalar(select(Agent).where(Agent.workspace_id == workspace.id))
    llm = await catalog.by_model(session, MOCK_PROVIDER, DEV_MODEL_ID)
    if agent is None and llm is not None:
        session.add(
            Agent(
                workspace_id=workspace.id,
                project_id=project.id,
                name="Helpful assistant",
                description="Answers with the free development model.",
                system_prompt="You are a helpful assistant.",
                llm_id=llm.id,
                status=AgentStatus.ACTIVE,
                created_by_id=user_id,
            )
        )
        await session.flush()
