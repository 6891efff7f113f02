"""Rate limits set on one API token, replacing the configured defaults."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, updated_ts


class ApiTokenRateLimit(Base):
    """Per-minute limits of one API token; a null column keeps the configured default."""

    __tablename__ = "api_token_rate_limits"

    api_token_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True
    )
    points_per_minute: Mapped[int | None] = mapped_column(Integer)
    model_calls_per_minute: Mapped[int | None] = mapped_column(Integer)
    set_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[updated_ts]
