"""Workspaces (the tenant boundary), their members, invitations and projects."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import (
    Base,
    created_ts,
    json_object,
    str_enum,
    timestamp,
    updated_ts,
    uuid_pk,
)


class WorkspacePlan(enum.Enum):
    FREE = "free"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class MemberRole(enum.Enum):
    """Roles in rising order of power; ``rank`` compares them."""

    VIEWER = "viewer"
    MEMBER = "member"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return list(MemberRole).index(self)


class InvitationStatus(enum.Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ProjectStatus(enum.Enum):
    ACTIVE = "active"
    ARCHIVED = "archived"


class Workspace(Base):
    """A tenant: everything below it is visible only to its members."""

    __tablename__ = "workspaces"
    # Read ``updated_at`` back with RETURNING: the row is used after its session closes.

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    plan: Mapped[WorkspacePlan] = mapped_column(
        str_enum(WorkspacePlan, "workspace_plan"), default=WorkspacePlan.FREE
    )
    settings: Mapped[json_object]
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    default_llm_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("llms.id", ondelete="SET NULL")
    )
    # Answers when the model a generation resolved to fails before its first token.
    fallback_llm_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("llms.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class WorkspaceMember(Base):
    """A user's role in a workspace."""

    __tablename__ = "workspace_members"
    __table_args__ = (
        UniqueConstraint("workspace_id", "user_id"),
        Index(None, "user_id"),
    )
    # Read ``updated_at`` back with RETURNING: the row is used after its session closes.

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[MemberRole] = mapped_column(str_enum(MemberRole, "member_role"))
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class WorkspaceInvitation(Base):
    """An invitation by email; the secret token is stored as its SHA-256 digest."""

    __tablename__ = "workspace_invitations"
    __table_args__ = (Index(None, "workspace_id", "status"),)

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[MemberRole] = mapped_column(str_enum(MemberRole, "invitation_role"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[InvitationStatus] = mapped_column(
        str_enum(InvitationStatus, "invitation_status"), default=InvitationStatus.PENDING
    )
    expires_at: Mapped[timestamp]
    inviter_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    accepted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    accepted_at: Mapped[timestamp | None]
    created_at: Mapped[created_ts]


class Project(Base):
    """A grouping of agents and conversations inside a workspace."""

    __tablename__ = "projects"
    __table_args__ = (Index(None, "workspace_id", "status", "created_at"),)
    # Read ``updated_at`` back with RETURNING: the row is used after its session closes.

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[ProjectStatus] = mapped_column(
        str_enum(ProjectStatus, "project_status"), default=ProjectStatus.ACTIVE
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]
