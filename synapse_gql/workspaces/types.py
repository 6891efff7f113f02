"""GraphQL types of workspaces, members and invitations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import strawberry
from sqlalchemy import Row, false, true
from strawberry.scalars import JSON

from synapse_gql.accounts.types import UserType, load_user
from synapse_gql.agents.fields import agents_field
from synapse_gql.alerts.fields import alerts_field
from synapse_gql.budgets.fields import budgets_field
from synapse_gql.catalog.types import LLMType, load_llm
from synapse_gql.context import Info
from synapse_gql.conversations.fields import conversations_field
from synapse_gql.dashboards.fields import dashboards_field
from synapse_gql.feedback.fields import feedback_summary_field
from synapse_gql.gql.batched import ChildList, child_connection
from synapse_gql.gql.pagination import Connection, PageArgs, SortKey
from synapse_gql.gql.relay import Node, from_values, lazy_global_id, orm_values, to_global_id
from synapse_gql.invoices.fields import invoices_field
from synapse_gql.models import (
    InvitationStatus,
    MemberRole,
    Workspace,
    WorkspaceInvitation,
    WorkspaceMember,
    WorkspacePlan,
)
from synapse_gql.projects.fields import projects_field
from synapse_gql.tags.fields import workspace_tags_field
from synapse_gql.usage.fields import billing_events_field, usage_logs_field
from synapse_gql.variables.fields import workspace_secrets_field
from synapse_gql.workspaces import repository
from synapse_gql.workspaces.access import viewer_role
from synapse_gql.workspaces.loaders import WORKSPACE_COLUMNS, WorkspaceLoader

strawberry.enum(MemberRole, name="MemberRole")
MemberRoleType = MemberRole
strawberry.enum(WorkspacePlan, name="WorkspacePlan")
WorkspacePlanType = WorkspacePlan
strawberry.enum(InvitationStatus, name="InvitationStatus")
InvitationStatusType = InvitationStatus
FALLBACK_LLM_DESCRIPTION = (
    "Model that answers when the resolved model fails before its first token"
    " (unavailable, timeout, rate limit)."
)
MEMBERS = ChildList(
    name="members",
    model=WorkspaceMember,
    parent=WorkspaceMember.workspace_id,
    key=SortKey(WorkspaceMember.created_at, WorkspaceMember.id),
)


def page_args(
    first: int | None, after: str | None, last: int | None, before: str | None
) -> PageArgs:
    return PageArgs(first=first, after=after, last=last, before=before)


async def load_workspace(info: Info, workspace_id: uuid.UUID) -> WorkspaceType | None:
    """A workspace by database id (batched), for a child row the caller may read."""
    row = await WorkspaceLoader(info).one(workspace_id)
    return None if row is None else WorkspaceType.of_row(row)


@lazy_global_id("Workspace")
@strawberry.type(name="Workspace", description="A team's tenant: members, projects, agents, usage.")
class WorkspaceType(Node):
    agents = agents_field(
        "workspace", "Agents, newest first; the active ones unless `status` is given."
    )
    conversations = conversations_field(
        "workspace", "Conversations, filtered; latest activity first by default."
    )
    usage_logs = usage_logs_field("workspace")
    billing_events = billing_events_field("workspace")
    alerts = alerts_field()
    db_id: strawberry.Private[uuid.UUID]
    owner_id: strawberry.Private[uuid.UUID]
    default_llm_db_id: strawberry.Private[uuid.UUID | None]
    fallback_llm_db_id: strawberry.Private[uuid.UUID | None]
    name: str
    slug: str
    description: str
    plan: WorkspacePlanType
    settings: JSON
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Workspace) -> WorkspaceType:
        """The node of an ORM workspace (one just written)."""
        return from_values(cls, orm_values(row, WORKSPACE_COLUMNS))

    @classmethod
    def of_row(cls, row: Row[Any]) -> WorkspaceType:
        """The node of a Core row of ``WorkspaceLoader``."""
        return from_values(cls, zip(row._fields, row, strict=True))

    @strawberry.field(description="The user who created the workspace.")
    async def owner(self, info: Info) -> UserType | None:
        return await load_user(info, self.owner_id)

    @strawberry.field(
        description="Model that answers in conversations with no agent and no model asked for."
    )
    async def default_llm(self, info: Info) -> LLMType | None:
        """The workspace's default model (batched per request), None when unset."""
        return await load_llm(info, self.default_llm_db_id)

    @strawberry.field(description=FALLBACK_LLM_DESCRIPTION)
    async def fallback_llm(self, info: Info) -> LLMType | None:
        """The workspace's fallback model (batched per request), None when unset."""
        return await load_llm(info, self.fallback_llm_db_id)

    budgets = budgets_field()
    invoices = invoices_field()
    dashboards = dashboards_field()

    @strawberry.field(description="Your role here.")
    async def viewer_role(self, info: Info) -> MemberRoleType | None:
        return await viewer_role(info, self.db_id)

    @strawberry.field(description="Members, newest first.")
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[MemberType]:
        args = page_args(first, after, last, before)
        return await child_connection(info, MEMBERS, self.db_id, args, MemberType.from_row)

    @strawberry.field(description="Invitations (admins and owners only; empty for others).")
    async def invitations(
        self,
        info: Info,
        status: InvitationStatusType | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[InvitationType]:
        role = await viewer_role(info, self.db_id)
        allowed = role is not None and role.rank >= MemberRole.ADMIN.rank
        spec = ChildList(
            name=("invitations", status, allowed),
            model=WorkspaceInvitation,
            parent=WorkspaceInvitation.workspace_id,
            key=SortKey(WorkspaceInvitation.created_at, WorkspaceInvitation.id),
            where=[
                *repository.invitation_status_filter(status),
                true() if allowed else false(),
            ],
        )
        args = page_args(first, after, last, before)
        return await child_connection(info, spec, self.db_id, args, InvitationType.from_row)

    projects = projects_field()
    secrets = workspace_secrets_field()
    tags = workspace_tags_field()
    feedback_summary = feedback_summary_field()


@strawberry.type(name="WorkspaceMember", description="A user's role in a workspace.")
class MemberType(Node):
    db_id: strawberry.Private[uuid.UUID]
    user_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    role: MemberRoleType
    created_at: datetime

    @classmethod
    def from_row(cls, row: WorkspaceMember) -> MemberType:
        return cls(
            id=to_global_id("WorkspaceMember", row.id),
            db_id=row.id,
            user_id=row.user_id,
            workspace_id=row.workspace_id,
            role=row.role,
            created_at=row.created_at,
        )

    @strawberry.field
    async def user(self, info: Info) -> UserType | None:
        return await load_user(info, self.user_id)

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceType | None:
        return await load_workspace(info, self.workspace_id)


@strawberry.type(name="WorkspaceInvitation", description="An invitation to join a workspace.")
class InvitationType(Node):
    db_id: strawberry.Private[uuid.UUID]
    workspace_id: strawberry.Private[uuid.UUID]
    inviter_id: strawberry.Private[uuid.UUID | None]
    email: str
    role: MemberRoleType
    status: InvitationStatusType
    expires_at: datetime
    accepted_at: datetime | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: WorkspaceInvitation) -> InvitationType:
        status = row.status
        if status is InvitationStatus.PENDING and row.expires_at <= datetime.now(UTC):
            status = InvitationStatus.EXPIRED
        return cls(
            id=to_global_id("WorkspaceInvitation", row.id),
            db_id=row.id,
            workspace_id=row.workspace_id,
            inviter_id=row.inviter_id,
            email=row.email,
            role=row.role,
            status=status,
            expires_at=row.expires_at,
            accepted_at=row.accepted_at,
            created_at=row.created_at,
        )

    @strawberry.field
    async def inviter(self, info: Info) -> UserType | None:
        return await load_user(info, self.inviter_id)

    @strawberry.field
    async def workspace(self, info: Info) -> WorkspaceType | None:
        return await load_workspace(info, self.workspace_id)


@strawberry.type(
    description="A new invitation: send `token` to the invitee; it is shown only once."
)
class CreatedInvitation:
    token: str
    invitation: InvitationType


@strawberry.input
class CreateWorkspaceInput:
    name: str
    slug: str | None = None
    description: str = ""


@strawberry.input
class UpdateWorkspaceInput:
    id: strawberry.ID
    name: str | None = strawberry.UNSET
    slug: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    settings: JSON | None = strawberry.UNSET
    default_llm_id: strawberry.ID | None = strawberry.UNSET
    fallback_llm_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=FALLBACK_LLM_DESCRIPTION
    )


@strawberry.input
class MemberInput:
    workspace_id: strawberry.ID
    user_id: strawberry.ID


@strawberry.input
class ChangeMemberRoleInput:
    workspace_id: strawberry.ID
    user_id: strawberry.ID
    role: MemberRoleType


@strawberry.input
class InviteMemberInput:
    workspace_id: strawberry.ID
    email: str
    role: MemberRoleType = MemberRole.MEMBER
