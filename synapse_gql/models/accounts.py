"""Users and their long-lived API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, created_ts, timestamp, updated_ts, uuid_pk


class User(Base):
    """A person who logs in. Emails are stored lower-cased, so uniqueness is case-insensitive."""

    __tablename__ = "users"

    id: Mapped[uuid_pk]
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_platform_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    last_login_at: Mapped[timestamp | None]
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class ApiToken(Base):
    """A named bearer token for integrations; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index(None, "user_id", "created_at"),)

    id: Mapped[uuid_pk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[timestamp | None]
    last_used_at: Mapped[timestamp | None]
    revoked_at: Mapped[timestamp | None]
    created_at: Mapped[created_ts]

    def is_usable(self, now: datetime) -> bool:
        """True when the token is neither revoked nor expired at ``now``."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now
