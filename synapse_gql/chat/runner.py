"""One background generation: history, the provider call (and its fallback), deltas to the
subscribers, checkpoints of the text, and the closing transaction.

The answer row is inserted under this process's lease (``messages.worker_id``), so that if
the process dies, any live one closes the answer once the lease expires. While it runs, the
process's :class:`~synapse_gql.chat.checkpoints.Checkpointer` writes its text every
``SYNAPSE_STREAM_CHECKPOINT_SECONDS`` (with every other running answer's, in one
statement); that also keeps the message from being taken for stale, and notices a message
closed from elsewhere (a stop that timed out, the sweeper), which ends the call.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

from sqlalchemy import Integer, bindparam, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.chat.checkpoints import Checkpointer
from synapse_gql.chat.finalize import Closing, finish
from synapse_gql.chat.history import prompt_for
from synapse_gql.chat.leases import WorkerLease
from synapse_gql.chat.pump import DeltaPump
from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.generation.calls import CANCELLED, CallOutcome, CallRun
from synapse_gql.llm import ChatMessage, ProviderError, ProviderErrorCode
from synapse_gql.metering import CallRecord
from synapse_gql.models import Message, MessageStatus
from synapse_gql.pipeline import (
    CallPlan,
    CallScope,
    ModelChoice,
    call_record,
    failure,
    needs_fallback,
    start_call,
)
from synapse_gql.state import AppState

log = logging.getLogger(__name__)

INTERRUPTED = ProviderError(ProviderErrorCode.UNAVAILABLE, "the server stopped mid-answer")


@dataclass
class GenerationJob:
    """An answer to generate: where it goes, what it answers, and how."""

    message_id: uuid.UUID
    question_id: uuid.UUID
    conversation_id: uuid.UUID
    workspace_id: uuid.UUID
    project_id: uuid.UUID | None
    user_id: uuid.UUID
    plan: CallPlan
    stop_requested: bool = False
    calls: list[CallRecord] = field(default_factory=list)

    @property
    def scope(self) -> CallScope:
        """Who pays for the answer's calls and what they belong to."""
        return CallScope(
            workspace_id=self.workspace_id,
            user_id=self.user_id,
            project_id=self.project_id,
            conversation_id=self.conversation_id,
            message_id=self.message_id,
        )

    def record(self, choice: ModelChoice, outcome: CallOutcome) -> CallRecord:
        """The usage of one provider call of the answer."""
        return call_record(self.scope, choice, outcome, bool(self.plan.system_prompt))


async def to_completion(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` to its end even when the caller is cancelled meanwhile, so whoever
    awaits this task sees the message closed once it returns."""
    task = asyncio.ensure_future(work)
    while True:
        try:
            await asyncio.shield(task)
            return
        except asyncio.CancelledError:
            if task.done():
                raise


class Generation:
    """Runs a :class:`GenerationJob` to its closing transaction."""

    def __init__(
        self, state: AppState, job: GenerationJob, lease: WorkerLease, checkpoints: Checkpointer
    ) -> None:
        self.state = state
        self.job = job
        self.lease = lease
        self.checkpoints = checkpoints
        self.pump = DeltaPump(state.stream_log, job.message_id, job.conversation_id)
        self.run: CallRun | None = None
        self.choice: ModelChoice | None = None
        self.unmetered = False
        self.task: asyncio.Task[None] | None = None

    async def __call__(self) -> None:
        """Generate, then close the message whatever happened (shielded from cancellation)."""
        self.task = asyncio.current_task()
        self.checkpoints.add(self)
        try:
            closing = await self._generate()
        except asyncio.CancelledError:
            closing = self._interrupted()
        except Exception:
            log.exception("generation of %s failed unexpectedly", self.job.message_id)
            closing = self._interrupted()
        finally:
            self.checkpoints.remove(self)
        await to_completion(self._close(closing))

    @property
    def message_id(self) -> uuid.UUID:
        """The answer being generated."""
        return self.job.message_id

    def closed_elsewhere(self) -> None:
        """The row was closed from elsewhere (that closer metered it): end the call."""
        if self.task is not None:
            self.task.cancel()

    async def _generate(self) -> Closing:
        *first, last = self.job.plan.choices
        for choice in first:
            outcome = await self._attempt(choice)
            if isinstance(outcome, Closing):
                return outcome
            if not needs_fallback(outcome):
                return self._ending(choice, outcome)
        outcome = await self._attempt(last)
        return outcome if isinstance(outcome, Closing) else self._ending(last, outcome)

    async def _attempt(self, choice: ModelChoice) -> CallOutcome | Closing:
        """Call ``choice`` with the history cut to its own window; the closing of a
        prompt that does not fit."""
        try:
            messages = await self._prompt(choice)
        except DomainError as error:
            return self._closing(MessageStatus.FAILED, error.code.value, error.message)
        return await self._call(choice, messages)

    async def _prompt(self, choice: ModelChoice) -> list[ChatMessage]:
        """The prompt the plan counted for the primary model when it reserved (its size
        is on the row already), else the one built now."""
        plan = self.job.plan
        if choice is plan.primary and plan.prompt is not None:
            return plan.prompt.messages
        return await self._built_prompt(choice)

    async def _built_prompt(self, choice: ModelChoice) -> list[ChatMessage]:
        """The history read now, cut to ``choice``'s window; its size noted on the row."""
        async with self.state.db.transaction() as session:
            prompt = await prompt_for(
                session,
                self.job.question_id,
                choice.llm,
                choice.params,
                self.job.plan.system_prompt,
                self.state.settings.history_max_messages,
            )
            await note_prompt_tokens(session, self.job.message_id, prompt.tokens)
        return prompt.messages

    async def _call(self, choice: ModelChoice, messages: list[ChatMessage]) -> CallOutcome:
        self.choice = choice
        self.run = start_call(self.state, choice, messages, self.pump.push)
        self.unmetered = True
        outcome = await self.run.execute()
        self.job.calls.append(self.job.record(choice, outcome))
        self.unmetered = False
        return outcome

    def _ending(self, choice: ModelChoice, outcome: CallOutcome) -> Closing:
        error = outcome.error
        if error is None:
            return self._closing(MessageStatus.COMPLETED)
        failed = failure(choice, error)
        return self._closing(MessageStatus.FAILED, failed.code.value, failed.message)

    def _interrupted(self) -> Closing:
        """The closing of a call cut short by a stop request or a shutdown; the call in
        flight (if any) is metered for what it consumed."""
        stopped = self.job.stop_requested
        if self.unmetered and self.run is not None and self.choice is not None:
            # Metered for exactly the text the subscribers get and the row keeps.
            outcome = self.run.failed(CANCELLED if stopped else INTERRUPTED, self.pump.published)
            record = self.job.record(self.choice, outcome)
            if not stopped:
                record.error_code = ErrorCode.GENERATION_INTERRUPTED.value
            self.job.calls.append(record)
            self.unmetered = False
        if stopped:
            return self._closing(MessageStatus.CANCELLED)
        return self._closing(
            MessageStatus.FAILED,
            ErrorCode.GENERATION_INTERRUPTED.value,
            "The answer was interrupted; the text so far is kept.",
        )

    def _closing(
        self, status: MessageStatus, code: str | None = None, message: str | None = None
    ) -> Closing:
        return Closing(self.job.message_id, self.job.conversation_id, "", status, 0, code, message)

    async def _close(self, closing: Closing) -> None:
        sequence = await self.pump.close()
        closing = replace(closing, sequence=sequence, text=self.pump.text)
        try:
            await finish(self.state, closing, self.job.calls, self.job.plan.reservation_id)
        except Exception:
            log.exception("closing the answer %s failed; the sweeper will", self.job.message_id)
            return
        await self.state.stream_log.discard(self.job.message_id)


@cache
def _note_prompt_tokens() -> Any:
    """The UPDATE keeping ``:tokens`` in the generation info of ``:message_id``, built
    once."""
    tokens = bindparam("tokens", type_=Integer())
    return (
        update(Message)
        .where(Message.id == bindparam("message_id"))
        .values(
            generation=func.coalesce(Message.generation, func.jsonb_build_object()).op("||")(
                func.jsonb_build_object("prompt_tokens", tokens)
            )
        )
        .execution_options(synchronize_session=False)
    )


async def note_prompt_tokens(session: AsyncSession, message_id: uuid.UUID, tokens: int) -> None:
    """Keep the prompt's estimated size with the message (to meter it should we crash)."""
    await session.execute(_note_prompt_tokens(), {"message_id": message_id, "tokens": tokens})
