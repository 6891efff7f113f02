"""Invitations: created by admins, accepted with the secret token by the invitee."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.errors import DomainError, ErrorCode, Forbidden, NotFound
from synapse_gql.gql import validation
from synapse_gql.models import (
    InvitationStatus,
    MemberRole,
    User,
    WorkspaceInvitation,
    WorkspaceMember,
)
from synapse_gql.security.keys import digest, new_invitation_token
from synapse_gql.workspaces import repository
from synapse_gql.workspaces.access import require_role
from synapse_gql.workspaces.service import lock_members


@dataclass(frozen=True)
class IssuedInvitation:
    token: str
    invitation: WorkspaceInvitation


async def invite(
    session: AsyncSession,
    actor_id: uuid.UUID,
    workspace_id: uuid.UUID,
    email: str,
    role: MemberRole,
    ttl: timedelta,
) -> IssuedInvitation:
    """Invite ``email`` with ``role``; a pending invitation to the same email is replaced."""
    await lock_members(session, workspace_id)
    actor_role = await require_role(session, workspace_id, actor_id, MemberRole.ADMIN)
    email = validation.email(email, ["input", "email"])
    if role is MemberRole.OWNER and actor_role is not MemberRole.OWNER:
        raise Forbidden("Only an owner can invite another owner.", field=["input", "role"])
    existing_user = await repository.user_id_by_email(session, email)
    if existing_user and await repository.member(session, workspace_id, existing_user):
        raise DomainError(
            "This person is already a member.",
            field=["input", "email"],
            code=ErrorCode.ALREADY_MEMBER,
        )
    previous = await repository.pending_invitation_for(session, workspace_id, email)
    if previous is not None:
        previous.status = InvitationStatus.REVOKED
    token = new_invitation_token()
    invitation = WorkspaceInvitation(
        workspace_id=workspace_id,
        email=email,
        role=role,
        token_hash=digest(token),
        status=InvitationStatus.PENDING,
        expires_at=datetime.now(UTC) + ttl,
        inviter_id=actor_id,
    )
    session.add(invitation)
    await session.flush()
    return IssuedInvitation(token=token, invitation=invitation)


async def revoke(
    session: AsyncSession, actor_id: uuid.UUID, invitation_id: uuid.UUID
) -> WorkspaceInvitation:
    """Revoke a pending invitation; admins of its workspace only."""
    invitation = await session.get(WorkspaceInvitation, invitation_id, with_for_update=True)
    if invitation is None:
        raise NotFound("No such invitation.", field=["id"])
    await require_role(
        session,
        invitation.workspace_id,
        actor_id,
        MemberRole.ADMIN,
        field=("id",),
        what="invitation",
    )
    if invitation.status is not InvitationStatus.PENDING:
        raise DomainError(
            f"This invitation is {invitation.status.value}.",
            field=["id"],
            code=ErrorCode.INVITATION_NOT_PENDING,
        )
    invitation.status = InvitationStatus.REVOKED
    await session.flush()
    return invitation


async def accept(session: AsyncSession, user: User, token: str) -> WorkspaceMember:
    """Join the workspace of the invitation ``token`` was issued with.

    Two acceptances for one person and workspace (two invitations, or one sent twice)
    run one after the other under the workspace lock: the second finds the membership.
    """
    found = await repository.invitation_by_hash(session, digest(token))
    if found is None:
        raise NotFound("No invitation has this token.", field=["token"])
    # The workspace lock comes before the invitation's row lock, as in ``invite``.
    await lock_members(session, found.workspace_id, ("token",))
    invitation = await repository.invitation_by_hash(session, digest(token), lock=True)
    if invitation is None:
        raise NotFound("No invitation has this token.", field=["token"])
    if invitation.status is not InvitationStatus.PENDING:
        raise DomainError(
            f"This invitation is {invitation.status.value}.",
            field=["token"],
            code=ErrorCode.INVITATION_NOT_PENDING,
        )
    if invitation.expires_at <= datetime.now(UTC):
        raise DomainError(
            "This invitation has expired.", field=["token"], code=ErrorCode.INVITATION_EXPIRED
        )
    if invitation.email != user.email:
        raise Forbidden("This invitation was sent to another email address.", field=["token"])
    membership = await repository.member(session, invitation.workspace_id, user.id)
    if membership is None:
        membership = WorkspaceMember(
            workspace_id=invitation.workspace_id, user_id=user.id, role=invitation.role
        )
        session.add(membership)
    invitation.status = InvitationStatus.ACCEPTED
    invitation.accepted_by_id = user.id
    invitation.accepted_at = datetime.now(UTC)
    await session.flush()
    return membership
