"""Checkpoints of every answer streaming in this process: one statement per interval.

Every ``SYNAPSE_STREAM_CHECKPOINT_SECONDS`` the text sent so far of each running answer is
written, in one ``UPDATE ... FROM (VALUES ...)`` for all of them (a thousand answers cost one
transaction, not a thousand). The write keeps the answers from being taken for stale, and
tells which were closed from elsewhere (a stop that timed out, the sweeper): those rows are
no longer streaming, and their generations are told to stop.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from contextlib import suppress
from typing import Protocol

from sqlalchemy import Integer, Text, Uuid, column, func, update, values

from synapse_gql.chat.pump import DeltaPump
from synapse_gql.models import Message, MessageStatus
from synapse_gql.state import AppState

log = logging.getLogger(__name__)


class Checkpointed(Protocol):
    """A running answer, as the checkpointer sees it."""

    pump: DeltaPump

    @property
    def message_id(self) -> uuid.UUID:
        """The answer's message."""

    def closed_elsewhere(self) -> None:
        """The row is no longer streaming: stop generating (its closer metered it)."""


async def checkpoint_all(state: AppState, answers: Sequence[Checkpointed]) -> set[uuid.UUID]:
    """Save the text sent so far of every answer; the ids of those still streaming."""
    rows = values(
        column("id", Uuid),
        column("content", Text),
        column("sequence", Integer),
        name="checkpoint",
    ).data([(a.message_id, a.pump.text, a.pump.sequence) for a in answers])
    stmt = (
        update(Message)
        .where(Message.id == rows.c.id, Message.status == MessageStatus.STREAMING)
        .values(content=rows.c.content, stream_sequence=rows.c.sequence, updated_at=func.now())
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    async with state.db.transaction() as session:
        return set((await session.scalars(stmt)).all())


class Checkpointer:
    """Checkpoints the running answers of the process (see the module docstring); its task
    runs while there are answers and ends when there are none."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self._answers: dict[uuid.UUID, Checkpointed] = {}
        self._task: asyncio.Task[None] | None = None

    def add(self, answer: Checkpointed) -> None:
        """Checkpoint ``answer`` from the next round on."""
        self._answers[answer.message_id] = answer
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="synapse-checkpoints")

    def remove(self, answer: Checkpointed) -> None:
        """Stop checkpointing ``answer`` (it is closing)."""
        if self._answers.get(answer.message_id) is answer:
            del self._answers[answer.message_id]

    async def stop(self) -> None:
        """Cancel the task (at shutdown)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        interval = self.state.settings.stream_checkpoint_seconds
        while True:
            await asyncio.sleep(interval)
            if not self._answers:
                self._task = None
                return
            answers = list(self._answers.values())
            try:
                alive = await checkpoint_all(self.state, answers)
            except Exception:
                log.exception("checkpoint of %d answers failed", len(answers))
                continue
            for answer in answers:
                if answer.message_id not in alive and answer is self._answers.get(
                    answer.message_id
                ):
                    log.warning("answer %s was closed elsewhere; stopping", answer.message_id)
                    self.remove(answer)
                    answer.closed_elsewhere()
