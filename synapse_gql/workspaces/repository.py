"""SQL for workspaces, members and invitations."""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import (
    InvitationStatus,
    MemberRole,
    User,
    Workspace,
    WorkspaceInvitation,
    WorkspaceMember,
)


def workspaces_of(user_id: uuid.UUID) -> Select[Workspace]:
    return (
        select(Workspace)
        .join(WorkspaceMember, WorkspaceMember.workspace_id == Workspace.id)
        .where(WorkspaceMember.user_id == user_id)
    )


def invitation_status_filter(status: InvitationStatus | None) -> list[ColumnElement[bool]]:
    """Conditions for ``status``; a pending invitation past its expiry counts as expired."""
    pending = WorkspaceInvitation.status == InvitationStatus.PENDING
    lapsed = WorkspaceInvitation.expires_at <= func.now()
    if status is InvitationStatus.PENDING:
        return [pending, ~lapsed]
    if status is InvitationStatus.EXPIRED:
        return [or_(WorkspaceInvitation.status == status, and_(pending, lapsed))]
    return [] if status is None else [WorkspaceInvitation.status == status]


async def slug_taken(session: AsyncSession, slug: str, exclude: uuid.UUID | None = None) -> bool:
    stmt = select(Workspace.id).where(Workspace.slug == slug)
    if exclude is not None:
        stmt = stmt.where(Workspace.id != exclude)
    return await session.scalar(stmt) is not None


async def member(
    session: AsyncSession, workspace_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> WorkspaceMember | None:
    stmt = select(WorkspaceMember).where(
        WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.user_id == user_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def lock_workspace(session: AsyncSession, workspace_id: uuid.UUID) -> bool:
    """Take the workspace row's lock; False when there is no such workspace.

    Every change of membership (roles, removals, invitations, acceptance, deletion) takes
    this lock before it reads or locks a member row, so two changes in one workspace run
    one after the other and always in the same lock order: no deadlock, and the second
    one decides on what the first committed. ``FOR NO KEY UPDATE`` leaves inserts that
    merely reference the workspace (conversations, usage) unblocked.
    """
    stmt = select(Workspace.id).where(Workspace.id == workspace_id).with_for_update(key_share=True)
    return await session.scalar(stmt) is not None


async def owner_count(session: AsyncSession, workspace_id: uuid.UUID) -> int:
    """Owners of a workspace; exact while the caller holds :func:`lock_workspace`."""
    owners = select(func.count()).where(
        WorkspaceMember.workspace_id == workspace_id, WorkspaceMember.role == MemberRole.OWNER
    )
    return int(await session.scalar(owners) or 0)


async def invitation_by_hash(
    session: AsyncSession, token_hash: str, *, lock: bool = False
) -> WorkspaceInvitation | None:
    stmt = select(WorkspaceInvitation).where(WorkspaceInvitation.token_hash == token_hash)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def pending_invitation_for(
    session: AsyncSession, workspace_id: uuid.UUID, email: str
) -> WorkspaceInvitation | None:
    stmt = select(WorkspaceInvitation).where(
        WorkspaceInvitation.workspace_id == workspace_id,
        func.lower(WorkspaceInvitation.email) == email,
        WorkspaceInvitation.status == InvitationStatus.PENDING,
    )
    return await session.scalar(stmt)


async def user_id_by_email(session: AsyncSession, email: str) -> uuid.UUID | None:
    return await session.scalar(select(User.id).where(User.email == email))
