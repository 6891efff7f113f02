"""Sending, regenerating, editing and stopping answers in a conversation.

Each of the first three writes, in one transaction, the question (new, or edited, or the
one already asked) and an assistant message in the streaming state, then starts the
generation in the background and returns both at once. A request that is wrong in itself
(an inactive model asked for, a parameter out of range, an empty text) saves nothing. One
that is right but cannot be answered now (no API key, the budget spent, the configured
model retired) keeps the user's new message and answers with the typed error.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, func, select
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from synapse_gql.chat.finalize import queue_added
from synapse_gql.chat.recovery import close_abandoned
from synapse_gql.chat.resolution import (
    Overrides,
    Target,
    generation_info,
    is_request_error,
    plan_call,
    resolve_target,
)
from synapse_gql.chat.runner import GenerationJob
from synapse_gql.chat.streams import fresh_message
from synapse_gql.conversations import repository
from synapse_gql.conversations import service as conversations
from synapse_gql.conversations.access import conversation_for, message_for
from synapse_gql.errors import DomainError, ErrorCode, InvalidInput, NotFound, TryAgain
from synapse_gql.models import (
    Conversation,
    ConversationStatus,
    MemberRole,
    Message,
    MessageRole,
    MessageStatus,
)
from synapse_gql.pipeline import CallPlan, announce
from synapse_gql.realtime import message_channel, subscribe
from synapse_gql.realtime.events import FinishedEvent
from synapse_gql.state import AppState

MESSAGE_PATH = ["input", "messageId"]
CONVERSATION_PATH = ["input", "conversationId"]
BUSY = "The server is busy; nothing was saved. Try again shortly."


@dataclass(frozen=True)
class Turn:
    """A question and the answer being generated for it, with the conversation after both."""

    question: Message
    answer: Message
    conversation: Conversation


@dataclass(frozen=True)
class Asked:
    """The question an answer is for, the message it replaces, what was created, and how
    many of the created messages the conversation does not count yet."""

    conversation: Conversation
    question: Message
    replaces: uuid.UUID | None
    created: list[Message]
    uncounted: int = 0


Locate = Callable[[AsyncSession], Awaitable[Asked]]


def _check_open(conversation: Conversation) -> None:
    if conversation.status is ConversationStatus.ARCHIVED:
        raise DomainError(
            "This conversation is archived; restore it to go on.",
            field=CONVERSATION_PATH,
            code=ErrorCode.CONVERSATION_ARCHIVED,
        )


async def _message(
    session: AsyncSession, actor_id: uuid.UUID, message_id: uuid.UUID
) -> tuple[Message, Conversation]:
    """A message of a conversation the actor may write in (members and above)."""
    return await message_for(session, actor_id, message_id, MemberRole.MEMBER, MESSAGE_PATH)


async def _question_of(session: AsyncSession, answer: Message) -> Message:
    """The user message an answer replies to (for older rows: the one just before it)."""
    if answer.reply_to_id is not None:
        question = await session.get(Message, answer.reply_to_id)
        if question is not None:
            return question
    stmt = (
        select(Message)
        .where(
            Message.conversation_id == answer.conversation_id,
            Message.role == MessageRole.USER,
            Message.created_at <= answer.created_at,
            Message.id != answer.id,
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    question = await session.scalar(stmt)
    if question is None:
        raise InvalidInput("This answer replies to no question.", field=MESSAGE_PATH)
    return question


async def _current_answer(session: AsyncSession, question: Message) -> Message | None:
    """The latest answer to ``question`` that nothing replaced yet."""
    successor = aliased(Message)
    stmt = (
        select(Message)
        .where(
            Message.reply_to_id == question.id,
            ~exists().where(successor.parent_id == Message.id),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    )
    return await session.scalar(stmt)


def _new_answer(asked: Asked, plan: CallPlan, actor_id: uuid.UUID, worker_id: uuid.UUID) -> Message:
    # Under this process's lease from the insert on: a crash at any moment after the
    # commit is found by the lease expiry, never only by the staleness timer.
    return Message(
        conversation_id=asked.conversation.id,
        role=MessageRole.ASSISTANT,
        content="",
        status=MessageStatus.STREAMING,
        llm_id=plan.primary.llm.id,
        reply_to_id=asked.question.id,
        parent_id=asked.replaces,
        generation=generation_info(plan, actor_id),
        created_at=func.clock_timestamp(),
        worker_id=worker_id,
    )


def _job(asked: Asked, answer: Message, plan: CallPlan, actor_id: uuid.UUID) -> GenerationJob:
    return GenerationJob(
        message_id=answer.id,
        question_id=asked.question.id,
        conversation_id=asked.conversation.id,
        workspace_id=asked.conversation.workspace_id,
        project_id=asked.conversation.project_id,
        user_id=actor_id,
        plan=plan,
    )


async def _target(
    session: AsyncSession, state: AppState, conversation: Conversation, overrides: Overrides
) -> Target | DomainError:
    """The checked target, or the error of a configuration that cannot answer now."""
    try:
        return await resolve_target(session, state, conversation, overrides)
    except DomainError as error:
        if is_request_error(error):
            raise
        return error


async def _connected(state: AppState, session: AsyncSession) -> None:
    """Check the transaction's connection out, or ``TryAgain`` when the pool has none to
    give within ``request_wait_seconds`` (nothing was written yet)."""
    try:
        async with asyncio.timeout(state.settings.request_wait_seconds):
            await session.connection()
    except (TimeoutError, PoolTimeoutError):
        raise TryAgain(BUSY) from None


async def _lock_conversation(session: AsyncSession, asked: Asked) -> None:
    """Lock the conversation's row before any budget row is reserved (metering locks the
    two in that order). A new question is counted now with the answer it expects, in one
    UPDATE returning the new count; otherwise the row is locked by a read."""
    if asked.uncounted:
        await repository.count_new_messages(session, asked.conversation, asked.uncounted + 1)
    else:
        await repository.lock_conversation(session, asked.conversation.id)


async def _uncount_answer(session: AsyncSession, asked: Asked) -> None:
    """No answer will be written: take back the one counted in advance, or bring the
    conversation up to date when nothing was counted in advance."""
    if asked.uncounted:
        await repository.count_new_messages(session, asked.conversation, -1)
    else:
        await session.refresh(asked.conversation)


async def _answer(
    state: AppState, actor_id: uuid.UUID, overrides: Overrides, locate: Locate
) -> Turn:
    """Locate (or write) the question, write the answer row, start the generation."""
    blocked: DomainError | None = None
    async with state.db.transaction() as session:
        await _connected(state, session)
        asked = await locate(session)
        _check_open(asked.conversation)
        await _lock_conversation(session, asked)
        target = await _target(session, state, asked.conversation, overrides)
        try:
            if isinstance(target, DomainError):
                raise target
            plan = await plan_call(session, state, target, actor_id, asked.question.id)
        except DomainError as error:
            blocked = error
            await _uncount_answer(session, asked)
        else:
            answer = _new_answer(asked, plan, actor_id, state.generations.lease.id)
            session.add(answer)
            await session.flush()
            asked.created.append(answer)
            if not asked.uncounted:
                await repository.count_new_messages(session, asked.conversation, 1)
        queue_added(state, session, asked.conversation.id, [m.id for m in asked.created])
    await announce(state, session)
    if blocked is not None:
        raise blocked
    state.generations.start(_job(asked, answer, plan, actor_id))
    return Turn(asked.question, answer, asked.conversation)


async def send_message(
    state: AppState,
    actor_id: uuid.UUID,
    conversation_id: uuid.UUID,
    content: str,
    overrides: Overrides,
) -> Turn:
    """Ask a question in a conversation (members and above)."""

    async def locate(session: AsyncSession) -> Asked:
        conversation = await conversation_for(
            session, actor_id, conversation_id, MemberRole.MEMBER, CONVERSATION_PATH
        )
        question = Message(
            conversation_id=conversation.id,
            role=MessageRole.USER,
            content=conversations.check_content(content),
            status=MessageStatus.COMPLETED,
            author_id=actor_id,
            created_at=func.clock_timestamp(),
            completed_at=datetime.now(UTC),
        )
        _check_open(conversation)
        session.add(question)
        await session.flush()
        return Asked(conversation, question, None, [question], uncounted=1)

    return await _answer(state, actor_id, overrides, locate)


async def regenerate_message(
    state: AppState, actor_id: uuid.UUID, message_id: uuid.UUID, overrides: Overrides
) -> Turn:
    """A new answer to a question: given an answer, it replaces that answer (its parent);
    given a question, it answers it again, replacing its current answer if it has one."""

    async def locate(session: AsyncSession) -> Asked:
        message, conversation = await _message(session, actor_id, message_id)
        if message.role is MessageRole.USER:
            current = await _current_answer(session, message)
            if current is not None and current.status is MessageStatus.STREAMING:
                raise InvalidInput(
                    "This question's answer is still streaming; stop it first.",
                    field=MESSAGE_PATH,
                )
            replaces = None if current is None else current.id
            return Asked(conversation, message, replaces, [])
        if message.role is not MessageRole.ASSISTANT:
            raise InvalidInput("Only questions and answers can be regenerated.", field=MESSAGE_PATH)
        if message.status is MessageStatus.STREAMING:
            raise InvalidInput("This answer is still streaming; stop it first.", field=MESSAGE_PATH)
        return Asked(conversation, await _question_of(session, message), message.id, [])

    return await _answer(state, actor_id, overrides, locate)


async def edit_message(
    state: AppState,
    actor_id: uuid.UUID,
    message_id: uuid.UUID,
    content: str,
    overrides: Overrides,
) -> Turn:
    """Edit a question (its author only) and answer the edited version; the original stays
    as the new question's parent, and the conversation's thread forks before it."""

    async def locate(session: AsyncSession) -> Asked:
        edited = await conversations.edit_message(session, actor_id, message_id, content)
        conversation = await session.get_one(Conversation, edited.conversation_id)
        return Asked(conversation, edited, None, [edited])

    return await _answer(state, actor_id, overrides, locate)


async def _fresh(state: AppState, message_id: uuid.UUID) -> Message:
    message = await fresh_message(state, message_id)
    if message is None:
        raise NotFound("No such message.", field=MESSAGE_PATH)
    return message


async def _stop_elsewhere(state: AppState, message_id: uuid.UUID) -> None:
    """Ask the process generating the answer to stop it; close it here when none does."""
    async with subscribe(state.realtime, message_channel(message_id), FinishedEvent) as ends:
        if (await _fresh(state, message_id)).status is not MessageStatus.STREAMING:
            return
        await state.generations.request_stop(message_id)
        try:
            async with asyncio.timeout(state.settings.stop_wait_seconds):
                async for _ in ends:
                    return
        except TimeoutError:
            pass
    await close_abandoned(state, message_id)


async def stop_generation(state: AppState, actor_id: uuid.UUID, message_id: uuid.UUID) -> Message:
    """Stop an answer that is streaming, keeping its text (status CANCELLED, usage metered).
    An answer that already ended is returned as it is."""
    async with state.db.reads() as session:
        message, _ = await _message(session, actor_id, message_id)
    if message.role is not MessageRole.ASSISTANT:
        raise InvalidInput("Only answers are generated.", field=MESSAGE_PATH)
    if message.status is MessageStatus.STREAMING and not await state.generations.stop_local(
        message_id
    ):
        await _stop_elsewhere(state, message_id)
    return await _fresh(state, message_id)
