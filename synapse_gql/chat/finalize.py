"""Closing an answer: one transaction writes the message's final text and status and meters
every provider call it took; then, committed, the end is announced.

Closing is conditional (``WHERE status = 'streaming'``): of a generation, a stop request
that found no live generation and the stale-generation sweeper, only the first closes the
message and meters it; the others find it closed and do nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.budgets.reservations import settle_answer
from synapse_gql.chat.events import added_event, finished_event
from synapse_gql.metering import CallRecord, record_call
from synapse_gql.models import Message, MessageStatus, UsageLog
from synapse_gql.realtime import conversation_channel, message_channel, publish_quietly
from synapse_gql.state import AppState
from synapse_gql.usage.live import announce_usage


@dataclass(frozen=True)
class Closing:
    """How an answer ends: its text, status, error and the sequence of its last delta."""

    message_id: uuid.UUID
    conversation_id: uuid.UUID
    text: str
    status: MessageStatus
    sequence: int
    error_code: str | None = None
    error_message: str | None = None


async def close_message(session: AsyncSession, closing: Closing) -> bool:
    """Write the end of a streaming message; False when it was already closed."""
    stmt = (
        update(Message)
        .where(Message.id == closing.message_id, Message.status == MessageStatus.STREAMING)
        .values(
            content=closing.text,
            status=closing.status,
            stream_sequence=closing.sequence,
            error_code=closing.error_code,
            error_message=closing.error_message,
            completed_at=func.now(),
            updated_at=func.now(),
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def finish(
    state: AppState, closing: Closing, calls: Sequence[CallRecord]
) -> uuid.UUID | None:
    """Close and meter in one transaction, then announce; the last call's usage log id,
    or None when the message was closed by someone else (nothing written)."""
    written: list[UsageLog] = []
    async with state.db.transaction() as session:
        if not await close_message(session, closing):
            return None
        for call in calls:
            written.append((await record_call(session, call)).usage_log)
        # Budgets: the exact cost was charged above; the answer's reservation ends here.
        await settle_answer(session, closing.message_id)
    await announce_finished(state, closing)
    await announce_logs(state, written)
    return written[-1].id if written else None


async def announce_logs(state: AppState, logs: Sequence[UsageLog]) -> None:
    """Announce committed usage logs to their workspaces' live usage subscribers."""
    for usage_log in logs:
        await announce_usage(state, usage_log.workspace_id, [usage_log.id])


async def announce_finished(state: AppState, closing: Closing) -> None:
    """Tell the message's and the conversation's subscribers that the answer ended."""
    payload = finished_event(closing.message_id, closing.sequence, closing.status.value)
    await publish_quietly(
        state.realtime,
        [
            (message_channel(closing.message_id), payload),
            (conversation_channel(closing.conversation_id), payload),
        ],
    )


async def announce_added(
    state: AppState, conversation_id: uuid.UUID, message_ids: Sequence[uuid.UUID]
) -> None:
    """Tell the conversation's subscribers about committed new messages, in order."""
    channel = conversation_channel(conversation_id)
    await publish_quietly(
        state.realtime, [(channel, added_event(message_id)) for message_id in message_ids]
    )
