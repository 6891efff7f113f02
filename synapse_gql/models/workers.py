"""The serving processes that generate answers, each holding a lease it renews."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import Base, created_ts


class GenerationWorker(Base):
    """A live (or dead) generating process. It renews ``heartbeat_at`` every
    ``SYNAPSE_WORKER_HEARTBEAT_SECONDS``; once that is older than
    ``SYNAPSE_WORKER_LEASE_SECONDS`` the process is taken for dead and any live process
    closes the answers it was generating (``messages.worker_id``). A missing row counts as
    an expired lease, so rows may be deleted freely.

    ``journal_dir`` is where a process without Redis journals its deltas (null with Redis):
    its answers are closed only by a process of the same host, which reads the journal."""

    __tablename__ = "generation_workers"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    journal_dir: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[created_ts]
    heartbeat_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
