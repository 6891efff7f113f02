"""Closing an answer: one transaction writes the message's final text and status and meters
every provider call it took (the call pipeline's metering step); then, committed, the end
and the usage are announced.

Closing is conditional (``WHERE status = 'streaming'``): of a generation, a stop request
that found no live generation and the stale-generation sweeper, only the first closes the
message and meters it; the others find it closed and do nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.metering import CallRecord
from synapse_gql.models import Message, MessageStatus
from synapse_gql.pipeline import announce, meter_and_settle
from synapse_gql.realtime import conversation_channel, message_channel, publisher_for
from synapse_gql.realtime.events import AddedEvent, FinishedEvent
from synapse_gql.state import AppState


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


@cache
def _close_statement() -> Any:
    """The UPDATE ending a streaming message (``:message_id``), built once."""
    return (
        update(Message)
        .where(Message.id == bindparam("message_id"), Message.status == MessageStatus.STREAMING)
        .values(
            content=bindparam("content"),
            status=bindparam("status"),
            stream_sequence=bindparam("stream_sequence"),
            error_code=bindparam("error_code"),
            error_message=bindparam("error_message"),
            completed_at=func.now(),
            updated_at=func.now(),
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )


async def close_message(session: AsyncSession, closing: Closing) -> bool:
    """Write the end of a streaming message; False when it was already closed."""
    values = {
        "message_id": closing.message_id,
        "content": closing.text,
        "status": closing.status,
        "stream_sequence": closing.sequence,
        "error_code": closing.error_code,
        "error_message": closing.error_message,
    }
    closed = await session.execute(_close_statement(), values)
    return closed.scalar_one_or_none() is not None


async def finish(
    state: AppState,
    closing: Closing,
    calls: Sequence[CallRecord],
    reservation_id: uuid.UUID | None,
) -> uuid.UUID | None:
    """Close, meter and settle in one transaction, then announce; the last call's usage
    log id, or None when the message was closed by someone else (nothing written)."""
    async with state.db.transaction() as session:
        if not await close_message(session, closing):
            return None
        queue_finished(state, session, closing)
        results = await meter_and_settle(state, session, calls, reservation_id)
    await announce(state, session)
    return results[-1].usage_log.id if results else None


def queue_finished(state: AppState, session: AsyncSession, closing: Closing) -> None:
    """Tell the message's and the conversation's subscribers, once ``session`` commits,
    that the answer ended."""
    event = FinishedEvent(
        message_id=closing.message_id, sequence=closing.sequence, status=closing.status.value
    )
    publisher = publisher_for(state.realtime)
    publisher.publish(session, message_channel(closing.message_id), event)
    publisher.publish(session, conversation_channel(closing.conversation_id), event)


def queue_added(
    state: AppState,
    session: AsyncSession,
    conversation_id: uuid.UUID,
    message_ids: Sequence[uuid.UUID],
) -> None:
    """Tell the conversation's subscribers, once ``session`` commits, about its new
    messages, in order."""
    publisher = publisher_for(state.realtime)
    channel = conversation_channel(conversation_id)
    for message_id in message_ids:
        publisher.publish(session, channel, AddedEvent(message_id=message_id))
