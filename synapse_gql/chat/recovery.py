"""Closing answers nobody is generating any more.

An answer is abandoned when it is still streaming and either the process that generates it
(``messages.worker_id``) has let its lease expire (:mod:`~synapse_gql.chat.leases`), or,
as the last resort, its generation has not checkpointed for
``SYNAPSE_STALE_GENERATION_SECONDS``. The sweeper (one query on the few streaming rows)
closes each one as failed (GENERATION_INTERRUPTED), with the longest text it can find (the
checkpoint, or the delta log when that has more: Redis, or the journal file the dead
process left, so the text kept covers every delta any subscriber was sent), and meters the
call with estimated tokens from what the message kept of it. Rows are claimed with
``FOR UPDATE SKIP LOCKED``, so sweepers of several processes never close one message twice.

A sweeper spares the answers of its own process (:class:`OwnAnswers`): those it generates
are alive whatever their checkpoint or the lease's last renewal say (a process busy enough
to renew late still runs them), and the others under its lease are taken only once stale.

:func:`close_abandoned` does the same at once for one message, as CANCELLED, when a stop
request finds no live generation for it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import ARRAY, Uuid, all_, and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from synapse_gql.budgets.reservations import reservation_of
from synapse_gql.chat.finalize import Closing, close_message, queue_finished
from synapse_gql.chat.leases import this_host
from synapse_gql.config import Settings
from synapse_gql.errors import ErrorCode
from synapse_gql.llm import count_tokens
from synapse_gql.metering import CallRecord
from synapse_gql.models import (
    ApiKeySource,
    Conversation,
    GenerationWorker,
    Message,
    MessageStatus,
    UsageStatus,
)
from synapse_gql.pipeline import announce, meter_and_settle
from synapse_gql.realtime import Delta, utf16_length
from synapse_gql.realtime.journal import DeltaJournal
from synapse_gql.state import AppState

log = logging.getLogger(__name__)

BATCH = 100
STALE_MESSAGE = "The server generating this answer stopped; the text so far is kept."


def recovered_text(message: Message, logged: list[Delta]) -> tuple[str, int]:
    """The message's text and last sequence: the checkpoint plus any logged deltas after it."""
    text, sequence = message.content, message.stream_sequence
    for delta in logged:
        if delta.sequence == sequence + 1 and delta.offset == utf16_length(text):
            text, sequence = text + delta.text, delta.sequence
    return text, sequence


def estimated_call(
    message: Message, conversation: Conversation, text: str, failed: bool
) -> CallRecord | None:
    """The usage of the lost call (an error, or cancelled), estimated from what the message
    kept; None when it kept nothing to meter with."""
    info = message.generation or {}
    llm_id = info.get("llm_id") or message.llm_id
    if llm_id is None:
        return None
    provider, model = str(info.get("provider", "")), str(info.get("model_id", ""))
    output_tokens = count_tokens(model, provider, text)[0] if text else 0
    user_id = info.get("user_id")
    return CallRecord(
        workspace_id=conversation.workspace_id,
        project_id=conversation.project_id,
        conversation_id=conversation.id,
        message_id=message.id,
        user_id=uuid.UUID(user_id) if user_id else None,
        # The API token of the request that asked (API-token budgets are charged too).
        api_token_id=uuid.UUID(token) if (token := info.get("api_token_id")) else None,
        llm_id=uuid.UUID(str(llm_id)),
        provider=provider,
        model_id=model,
        api_key_source=ApiKeySource(info.get("key_source", ApiKeySource.NONE.value)),
        input_tokens=int(info.get("prompt_tokens", 0)) if text else 0,
        output_tokens=output_tokens,
        tokens_estimated=True,
        # The price in force when the answer was asked for, kept with the message.
        llm_price_id=uuid.UUID(str(info["llm_price_id"])) if info.get("llm_price_id") else None,
        status=UsageStatus.ERROR if failed else UsageStatus.CANCELLED,
        error_code=ErrorCode.GENERATION_INTERRUPTED.value if failed else None,
        error_message="the generating process stopped" if failed else None,
        parameters=dict(info.get("parameters", {})),
    )


@dataclass(frozen=True)
class OwnAnswers:
    """The sweeping process's lease and the answers it is generating (never swept by it)."""

    lease_id: uuid.UUID | None = None
    running: Collection[uuid.UUID] = ()


def abandoned(
    stale_after: float, lease: float, host: str, own: OwnAnswers = OwnAnswers()
) -> ColumnElement[bool]:
    """A streaming answer not checkpointed for ``stale_after`` seconds, or whose process's
    lease expired (or whose row is gone); when that process journaled its deltas to files,
    only a process of its host (which can read them) takes the answer before it is stale.
    The answers ``own`` generates are never abandoned, and the lease of ``own`` never
    expired. Needs ``GenerationWorker`` outer-joined on ``Message.worker_id``."""
    worker = GenerationWorker
    condition = or_(
        Message.updated_at < func.now() - timedelta(seconds=stale_after),
        and_(
            Message.worker_id.is_not(None),
            Message.worker_id.is_distinct_from(own.lease_id),
            or_(worker.id.is_(None), worker.heartbeat_at < func.now() - timedelta(seconds=lease)),
            or_(worker.journal_dir.is_(None), worker.hostname == host),
        ),
    )
    if not own.running:
        return condition
    running = bindparam("running", list(own.running), type_=ARRAY(Uuid))
    return and_(condition, Message.id != all_(running))


async def _claim(
    session: AsyncSession,
    message_id: uuid.UUID | None,
    sweep: Settings | None,
    own: OwnAnswers = OwnAnswers(),
) -> list[tuple[Message, Conversation, str | None]]:
    """Lock the answers to close, each with the journal directory of its process."""
    stmt = (
        select(Message, Conversation, GenerationWorker.journal_dir)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(GenerationWorker, GenerationWorker.id == Message.worker_id)
        .where(Message.status == MessageStatus.STREAMING)
        .with_for_update(of=Message, skip_locked=True)
        .limit(BATCH)
    )
    if message_id is not None:
        stmt = stmt.where(Message.id == message_id)
    if sweep is not None:
        lease = sweep.worker_lease_seconds
        stmt = stmt.where(abandoned(sweep.stale_generation_seconds, lease, this_host(), own))
    return [(row[0], row[1], row[2]) for row in (await session.execute(stmt)).all()]


async def _logged(state: AppState, message_id: uuid.UUID, journal: str | None) -> list[Delta]:
    """The deltas this process logged, or else those in the journal of the process that
    streamed the answer."""
    deltas = await state.stream_log.read(message_id)
    if deltas or journal is None:
        return deltas
    return await asyncio.to_thread(DeltaJournal(Path(journal)).read, message_id)


async def _forget(state: AppState, message_id: uuid.UUID, journal: str | None) -> None:
    await state.stream_log.discard(message_id)
    if journal is not None:
        await asyncio.to_thread(DeltaJournal(Path(journal)).discard, message_id)


async def _close_claimed(
    state: AppState,
    message_id: uuid.UUID | None,
    sweep: Settings | None,
    status: MessageStatus,
    own: OwnAnswers = OwnAnswers(),
) -> list[Closing]:
    closings: list[Closing] = []
    journals: list[str | None] = []
    async with state.db.transaction() as session:
        for message, conversation, journal in await _claim(session, message_id, sweep, own):
            logged = await _logged(state, message.id, journal)
            text, sequence = recovered_text(message, logged)
            failed = status is MessageStatus.FAILED
            closing = Closing(
                message.id,
                conversation.id,
                text,
                status,
                sequence,
                ErrorCode.GENERATION_INTERRUPTED.value if failed else None,
                STALE_MESSAGE if failed else None,
            )
            await close_message(session, closing)
            queue_finished(state, session, closing)
            call = estimated_call(message, conversation, text, failed)
            # The dead generation's reservation is released once its call is metered.
            reservation = reservation_of(message.generation)
            await meter_and_settle(state, session, [] if call is None else [call], reservation)
            closings.append(closing)
            journals.append(journal)
    for closing, journal in zip(closings, journals, strict=True):
        await _forget(state, closing.message_id, journal)
    await announce(state, session)
    return closings


async def sweep_stale(state: AppState, own: OwnAnswers = OwnAnswers()) -> int:
    """Close every abandoned answer, a batch at a time, sparing ``own`` (the sweeping
    process's); how many were closed."""
    total = 0
    while True:
        closed = await _close_claimed(state, None, state.settings, MessageStatus.FAILED, own)
        total += len(closed)
        if len(closed) < BATCH:
            break
    if total:
        log.warning("closed %d abandoned generation(s) as failed", total)
    return total


async def close_abandoned(state: AppState, message_id: uuid.UUID) -> bool:
    """Close a streaming answer nobody generates as cancelled; False if already closed."""
    return bool(await _close_claimed(state, message_id, None, MessageStatus.CANCELLED))
