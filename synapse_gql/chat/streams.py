"""What a subscriber of an answer receives: every delta once, in order, then the end.

The subscriber subscribes to the channel first and reads the delta log second: deltas
published before it subscribed are in the log, later ones arrive live, and a
:class:`Cursor` drops what it has already passed. A gap in the live deltas (a publication
lost while Redis reconnected) is filled from the log; when the log cannot fill it, live
deltas are held back until the end, where the committed text fills in the rest. A client
resuming after sequence ``n`` gets the deltas after ``n`` only.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import select

from synapse_gql.models import Message, MessageRole, MessageStatus, UsageLog
from synapse_gql.realtime import (
    Delta,
    conversation_channel,
    message_channel,
    subscribe,
    utf16_length,
    utf16_tail,
)
from synapse_gql.realtime.events import AddedEvent, DeltaEvent, FinishedEvent
from synapse_gql.state import AppState


@dataclass(frozen=True)
class Finished:
    """An answer's end: the committed message, its last sequence and its usage log."""

    message: Message
    sequence: int
    usage_log_id: uuid.UUID | None


@dataclass(frozen=True)
class Added:
    """A message committed to a conversation."""

    message: Message


@dataclass(frozen=True)
class AnswerDelta:
    """A delta of the answer ``message_id``."""

    message_id: uuid.UUID
    delta: Delta


StreamItem = AnswerDelta | Finished | Added


class Cursor:
    """How far a subscriber is in one answer: the last sequence and the offset after it,
    in UTF-16 code units (unknown when resuming until a delta or the text tells)."""

    def __init__(self, after: int = 0) -> None:
        self.sequence = max(after, 0)
        self.offset: int | None = 0 if self.sequence == 0 else None
        self.stalled = False

    def accept(self, deltas: list[Delta]) -> list[Delta]:
        """The deltas that continue the stream, in order; the rest are dropped."""
        taken = []
        for delta in sorted(deltas, key=lambda d: d.sequence):
            if delta.sequence == self.sequence + 1:
                taken.append(delta)
                self.sequence, self.offset = delta.sequence, delta.end
        return taken

    def rest_of(self, message: Message) -> list[Delta]:
        """What the committed text holds past the cursor, as one delta (numbered as the
        message's last); from offset 0 when the cursor's offset is unknown."""
        if message.stream_sequence <= self.sequence:
            return []
        offset = self.offset if self.offset is not None else 0
        text = utf16_tail(message.content, offset)
        self.sequence, self.offset = message.stream_sequence, utf16_length(message.content)
        return [Delta(self.sequence, offset, text)] if text else []


async def fresh_message(state: AppState, message_id: uuid.UUID) -> Message | None:
    """The message as committed now."""
    async with state.db.reads() as session:
        return await session.get(Message, message_id)


async def last_usage_log(state: AppState, message_id: uuid.UUID) -> uuid.UUID | None:
    """The usage log of the call that wrote the answer (the last one metered for it)."""
    stmt = (
        select(UsageLog.id)
        .where(UsageLog.message_id == message_id)
        .order_by(UsageLog.created_at.desc(), UsageLog.id.desc())
        .limit(1)
    )
    async with state.db.reads() as session:
        return await session.scalar(stmt)


class AnswerStream:
    """The deltas and the end of one answer, for one subscriber."""

    def __init__(self, state: AppState, message_id: uuid.UUID, after: int = 0) -> None:
        self.state = state
        self.message_id = message_id
        self.cursor = Cursor(after)

    async def catch_up(self) -> list[Delta]:
        """The logged deltas past the cursor."""
        return self.cursor.accept(
            await self.state.stream_log.read(self.message_id, self.cursor.sequence)
        )

    def live_now(self, delta: Delta) -> list[Delta] | None:
        """:meth:`live` when no gap is to be filled; None when one is."""
        if self.cursor.stalled or delta.sequence <= self.cursor.sequence:
            return []
        return self.cursor.accept([delta]) or None

    async def live(self, delta: Delta) -> list[Delta]:
        """A delta received live, with the gap before it filled from the log."""
        taken = self.live_now(delta)
        if taken is not None:
            return taken
        taken = await self.catch_up()
        if delta.sequence > self.cursor.sequence:
            taken += self.cursor.accept([delta])
        self.cursor.stalled = delta.sequence > self.cursor.sequence
        return taken

    async def end(self, message: Message) -> list[StreamItem]:
        """The rest of the text and the end, from the committed message."""
        deltas = await self.catch_up() + self.cursor.rest_of(message)
        items: list[StreamItem] = [AnswerDelta(message.id, delta) for delta in deltas]
        usage = await last_usage_log(self.state, message.id)
        items.append(Finished(message, message.stream_sequence, usage))
        return items


def _streaming(message: Message) -> bool:
    return message.status is MessageStatus.STREAMING


async def answer_events(
    state: AppState, message: Message, after: int = 0
) -> AsyncIterator[StreamItem]:
    """Every delta of ``message`` past ``after``, then its end (see the module docstring)."""
    stream = AnswerStream(state, message.id, after)
    channel = message_channel(message.id)
    kinds: tuple[type[DeltaEvent | FinishedEvent], ...] = (DeltaEvent, FinishedEvent)
    async with subscribe(state.realtime, channel, kinds) as events:
        for delta in await stream.catch_up():
            yield AnswerDelta(message.id, delta)
        current = await fresh_message(state, message.id)
        if current is None:
            return
        if not _streaming(current):
            for item in await stream.end(current):
                yield item
            return
        async for event in events:
            if event.message_id != message.id:
                continue
            async for item in _answer_item(state, stream, event):
                yield item
                if isinstance(item, Finished):
                    return


async def _answer_item(
    state: AppState, stream: AnswerStream, event: DeltaEvent | FinishedEvent
) -> AsyncIterator[StreamItem]:
    if isinstance(event, DeltaEvent):
        for delta in await stream.live(event.delta):
            yield AnswerDelta(stream.message_id, delta)
    else:
        current = await fresh_message(state, event.message_id)
        if current is not None:
            for item in await stream.end(current):
                yield item


async def _streaming_answers(state: AppState, conversation_id: uuid.UUID) -> list[uuid.UUID]:
    stmt = select(Message.id).where(
        Message.conversation_id == conversation_id,
        Message.role == MessageRole.ASSISTANT,
        Message.status == MessageStatus.STREAMING,
    )
    async with state.db.reads() as session:
        return list((await session.scalars(stmt)).all())


async def conversation_events(
    state: AppState, conversation_id: uuid.UUID
) -> AsyncIterator[StreamItem]:
    """New messages, and the deltas and end of every answer of a conversation: answers
    already streaming when the subscription starts are caught up from their beginning."""
    streams: dict[uuid.UUID, AnswerStream] = {}
    kinds: tuple[type[AddedEvent | DeltaEvent | FinishedEvent], ...] = (
        AddedEvent,
        DeltaEvent,
        FinishedEvent,
    )
    async with subscribe(state.realtime, conversation_channel(conversation_id), kinds) as events:
        for message_id in await _streaming_answers(state, conversation_id):
            stream = streams[message_id] = AnswerStream(state, message_id)
            for delta in await stream.catch_up():
                yield AnswerDelta(message_id, delta)
        async for event in events:
            if isinstance(event, AddedEvent):
                added = await fresh_message(state, event.message_id)
                if added is not None:
                    yield Added(added)
                continue
            stream = streams.setdefault(event.message_id, AnswerStream(state, event.message_id))
            async for item in _answer_item(state, stream, event):
                yield item
            if isinstance(event, FinishedEvent):
                streams.pop(event.message_id, None)
