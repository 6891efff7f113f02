"""Workspace, membership and invitation mutations."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import strawberry

from synapse_gql.context import Info
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id, to_global_id
from synapse_gql.realtime.access import (
    announce_access_change,
    announce_workspace_access_change,
)
from synapse_gql.workspaces import invitations, service
from synapse_gql.workspaces.types import (
    ChangeMemberRoleInput,
    CreatedInvitation,
    CreateWorkspaceInput,
    InvitationType,
    InviteMemberInput,
    MemberInput,
    MemberType,
    UpdateWorkspaceInput,
    WorkspaceType,
)

WorkspaceResult = Annotated[WorkspaceType | UserError, strawberry.union("WorkspaceResult")]
MemberResult = Annotated[MemberType | UserError, strawberry.union("MemberResult")]
InvitationResult = Annotated[InvitationType | UserError, strawberry.union("InvitationResult")]
CreateInvitationResult = Annotated[
    CreatedInvitation | UserError, strawberry.union("CreateInvitationResult")
]


@strawberry.type(description="The ID of something that was deleted.")
class Deleted:
    id: strawberry.ID


DeleteResult = Annotated[Deleted | UserError, strawberry.union("DeleteResult")]


LLM_FIELDS = {"default_llm_id": "defaultLlmId", "fallback_llm_id": "fallbackLlmId"}


def _changes(input: UpdateWorkspaceInput) -> dict[str, Any]:
    changes = {
        name: getattr(input, name)
        for name in ("name", "slug", "description", "settings")
        if getattr(input, name) is not strawberry.UNSET and getattr(input, name) is not None
    }
    for name, path in LLM_FIELDS.items():
        llm = getattr(input, name)
        if llm is not strawberry.UNSET:
            changes[name] = None if llm is None else decode_id(llm, "LLM", field=["input", path])
    return changes


@strawberry.type
class WorkspaceMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Create a workspace you own."
    )
    async def create_workspace(self, info: Info, input: CreateWorkspaceInput) -> WorkspaceResult:
        viewer = info.context.require_viewer()
        async with info.context.state.db.transaction() as session:
            row = await service.create_workspace(
                session, viewer.id, input.name, input.slug, input.description
            )
        return WorkspaceType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Update a workspace (admins)."
    )
    async def update_workspace(self, info: Info, input: UpdateWorkspaceInput) -> WorkspaceResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.id, "Workspace", field=["input", "id"])
        changes = _changes(input)
        async with info.context.state.db.transaction() as session:
            row = await service.update_workspace(session, viewer.id, workspace_id, changes)
        return WorkspaceType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Delete a workspace (owners)."
    )
    async def delete_workspace(self, info: Info, id: strawberry.ID) -> DeleteResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(id, "Workspace")
        async with info.context.state.db.transaction() as session:
            await announce_workspace_access_change(
                info.context.state.realtime, session, workspace_id, "workspace deleted"
            )
            await service.delete_workspace(session, viewer.id, workspace_id)
        return Deleted(id=id)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Change a member's role.")
    async def change_member_role(self, info: Info, input: ChangeMemberRoleInput) -> MemberResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        user_id = decode_id(input.user_id, "User", field=["input", "userId"])
        async with info.context.state.db.transaction() as session:
            row = await service.change_role(session, viewer.id, workspace_id, user_id, input.role)
            announce_access_change(info.context.state.realtime, session, [user_id], "role changed")
        return MemberType.from_row(row)

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Remove a member, or leave.")
    async def remove_member(self, info: Info, input: MemberInput) -> DeleteResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        user_id = decode_id(input.user_id, "User", field=["input", "userId"])
        async with info.context.state.db.transaction() as session:
            row = await service.remove_member(session, viewer.id, workspace_id, user_id)
            announce_access_change(info.context.state.realtime, session, [user_id], "removed")
        return Deleted(id=to_global_id("WorkspaceMember", row.id))

    @strawberry.mutation(permission_classes=AUTHENTICATED, description="Invite someone by email.")
    async def invite_member(self, info: Info, input: InviteMemberInput) -> CreateInvitationResult:
        viewer = info.context.require_viewer()
        workspace_id = decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"])
        ttl = timedelta(hours=info.context.settings.invitation_ttl_hours)
        async with info.context.state.db.transaction() as session:
            issued = await invitations.invite(
                session, viewer.id, workspace_id, input.email, input.role, ttl
            )
        return CreatedInvitation(
            token=issued.token, invitation=InvitationType.from_row(issued.invitation)
        )

    @strawberry.mutation(
        permission_classes=AUTHENTICATED, description="Revoke a pending invitation."
    )
    async def revoke_invitation(self, info: Info, id: strawberry.ID) -> InvitationResult:
        viewer = info.context.require_viewer()
        invitation_id = decode_id(id, "WorkspaceInvitation")
        async with info.context.state.db.transaction() as session:
            row = await invitations.revoke(session, viewer.id, invitation_id)
        return InvitationType.from_row(row)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Join a workspace with an invitation token sent to your email.",
    )
    async def accept_invitation(self, info: Info, token: str) -> MemberResult:
        viewer = info.context.require_viewer()
        async with info.context.state.db.transaction() as session:
            row = await invitations.accept(session, viewer.user, token)
        return MemberType.from_row(row)
