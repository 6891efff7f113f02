"""Closing answers nobody is generating any more.

A message is stale when it is still streaming and its generation has not checkpointed for
``SYNAPSE_STALE_GENERATION_SECONDS`` (its process died, or lost the database). The sweeper
closes each one as failed (GENERATION_INTERRUPTED), with the longest text it can find (the
checkpoint, or the delta log when that has more), and meters the call with estimated
tokens from what the message kept of it. Rows are claimed with ``FOR UPDATE SKIP LOCKED``,
so sweepers of several processes never close one message twice.

:func:`close_abandoned` does the same at once for one message, as CANCELLED, when a stop
request finds no live generation for it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.chat.finalize import Closing, announce_finished, announce_logs, close_message
from synapse_gql.errors import ErrorCode
from synapse_gql.llm import count_tokens
from synapse_gql.metering import CallRecord, record_call
from synapse_gql.models import (
    ApiKeySource,
    Conversation,
    Message,
    MessageStatus,
    UsageLog,
    UsageStatus,
)
from synapse_gql.realtime import Delta
from synapse_gql.state import AppState

log = logging.getLogger(__name__)

BATCH = 100
STALE_MESSAGE = "The server generating this answer stopped; the text so far is kept."


def recovered_text(message: Message, logged: list[Delta]) -> tuple[str, int]:
    """The message's text and last sequence: the checkpoint plus any logged deltas after it."""
    text, sequence = message.content, message.stream_sequence
    for delta in logged:
        if delta.sequence == sequence + 1 and delta.offset == len(text):
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
        llm_id=uuid.UUID(str(llm_id)),
        provider=provider,
        model_id=model,
        api_key_source=ApiKeySource(info.get("key_source", ApiKeySource.NONE.value)),
        input_tokens=int(info.get("prompt_tokens", 0)) if text else 0,
        output_tokens=output_tokens,
        tokens_estimated=True,
        status=UsageStatus.ERROR if failed else UsageStatus.CANCELLED,
        error_code=ErrorCode.GENERATION_INTERRUPTED.value if failed else None,
        error_message="the generating process stopped" if failed else None,
        parameters=dict(info.get("parameters", {})),
    )


async def _claim(
    session: AsyncSession, message_id: uuid.UUID | None, stale_after: float | None
) -> list[tuple[Message, Conversation]]:
    stmt = (
        select(Message, Conversation)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.status == MessageStatus.STREAMING)
        .with_for_update(of=Message, skip_locked=True)
        .limit(BATCH)
    )
    if message_id is not None:
        stmt = stmt.where(Message.id == message_id)
    if stale_after is not None:
        stmt = stmt.where(Message.updated_at < func.now() - timedelta(seconds=stale_after))
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def _close_claimed(
    state: AppState, message_id: uuid.UUID | None, stale_after: float | None, status: MessageStatus
) -> list[Closing]:
    closings: list[Closing] = []
    written: list[UsageLog] = []
    async with state.db.transaction() as session:
        for message, conversation in await _claim(session, message_id, stale_after):
            text, sequence = recovered_text(message, await state.stream_log.read(message.id))
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
            call = estimated_call(message, conversation, text, failed)
            if call is not None:
                written.append((await record_call(session, call)).usage_log)
            closings.append(closing)
    for closing in closings:
        await announce_finished(state, closing)
    await announce_logs(state, written)
    return closings


async def sweep_stale(state: AppState) -> int:
    """Close every stale answer, a batch at a time; how many were closed."""
    total = 0
    while True:
        closed = await _close_claimed(
            state, None, state.settings.stale_generation_seconds, MessageStatus.FAILED
        )
        total += len(closed)
        if len(closed) < BATCH:
            break
    if total:
        log.warning("closed %d stale generation(s) as failed", total)
    return total


async def close_abandoned(state: AppState, message_id: uuid.UUID) -> bool:
    """Close a streaming answer nobody generates as cancelled; False if already closed."""
    return bool(await _close_claimed(state, message_id, None, MessageStatus.CANCELLED))
