"""Per-user variables and per-workspace secrets (API keys), encrypted at rest."""

from __future__ import annotations

import uuid

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, created_ts, updated_ts, uuid_pk


class UserVariable(Base):
    """A user's setting or secret, e.g. ``OPENAI_API_KEY``; only ciphertext is stored.

    Secrets are never returned in clear: ``last_four`` is what the API shows.
    """

    __tablename__ = "user_variables"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    value_encrypted: Mapped[str] = mapped_column(Text)
    # Secret unless said otherwise: the safe default for a value nobody classified.
    is_secret: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    last_four: Mapped[str | None] = mapped_column(String(4))
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class WorkspaceSecret(Base):
    """A workspace-wide secret (a provider API key); only ciphertext and last four stored."""

    __tablename__ = "workspace_secrets"
    __table_args__ = (UniqueConstraint("workspace_id", "key"),)

    id: Mapped[uuid_pk]
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    value_encrypted: Mapped[str] = mapped_column(Text)
    last_four: Mapped[str] = mapped_column(String(4))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]
