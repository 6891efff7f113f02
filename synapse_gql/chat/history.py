"""The conversation a model is shown: the thread before the question, within its window.

The thread of a question is every message created before it (before the original, for an
edited question), less what was replaced: a message some other message has as ``parent``
(edited questions, regenerated answers), answers to a replaced question, the turns between
an edited question and its edit (the branch the edit abandoned), and answers that did not
complete with text. The newest turns are kept and the oldest dropped until the
system prompt, the turns and the question fit the model's context window less the room
kept for the answer; the first turn kept is a user turn.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import and_, exists, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.llm import ChatMessage, GenerationParams, count_tokens
from synapse_gql.models import LLM, Message, MessageRole, MessageStatus
from synapse_gql.pipeline.plan import Prompt

ANSWER_SHARE = 4  # with no max tokens set, keep 1/4 of the window for the answer


async def _original(session: AsyncSession, question: Message) -> Message:
    """The first version of an edited question (the question itself when never edited)."""
    current = question
    seen = {current.id}
    while current.parent_id is not None:
        parent = await session.get(Message, current.parent_id)
        if parent is None or parent.role is not MessageRole.USER or parent.id in seen:
            break
        current = parent
        seen.add(current.id)
    return current


async def _abandoned_spans(
    session: AsyncSession, conversation_id: uuid.UUID, before: tuple[datetime, uuid.UUID]
) -> list[tuple[datetime, datetime]]:
    """For each edit made before ``before``: the time from the original question to its edit,
    when the turns that followed the original belong to the abandoned branch."""
    original = aliased(Message)
    stmt = (
        select(original.created_at, Message.created_at)
        .join(original, original.id == Message.parent_id)
        .where(
            Message.conversation_id == conversation_id,
            Message.role == MessageRole.USER,
            original.role == MessageRole.USER,
            tuple_(Message.created_at, Message.id) < tuple_(*before),
        )
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def thread_before(
    session: AsyncSession, question: Message, limit: int
) -> list[tuple[MessageRole, str]]:
    """Up to ``limit`` turns of the question's thread, newest first."""
    original = await _original(session, question)
    cutoff = (original.created_at, original.id)
    successor = aliased(Message)
    replaced = exists().where(successor.parent_id == Message.id)
    replaced_question = exists().where(
        successor.parent_id == Message.reply_to_id, Message.reply_to_id.is_not(None)
    )
    answered = and_(
        Message.role == MessageRole.ASSISTANT,
        Message.status.in_([MessageStatus.COMPLETED, MessageStatus.CANCELLED]),
        Message.content != "",
        ~replaced_question,
    )
    stmt = (
        select(Message.role, Message.content, Message.created_at)
        .where(
            Message.conversation_id == question.conversation_id,
            tuple_(Message.created_at, Message.id) < tuple_(*cutoff),
            ~replaced,
            or_(Message.role == MessageRole.USER, answered),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    rows = (await session.execute(stmt)).all()
    if not rows:  # a first question: no turn to drop, so no need to read the edits
        return []
    spans = await _abandoned_spans(session, question.conversation_id, cutoff)
    return [
        (row.role, row.content)
        for row in rows
        if not any(start < row.created_at < end for start, end in spans)
    ]


def window(llm: LLM, params: GenerationParams) -> int:
    """Tokens the prompt may use: the context window less the room kept for the answer."""
    room = params.max_tokens or min(llm.max_output_tokens, llm.context_window // ANSWER_SHARE)
    return max(llm.context_window - room, 0)


def fit(
    llm: LLM,
    params: GenerationParams,
    system_prompt: str | None,
    turns_newest_first: list[tuple[MessageRole, str]],
    question: str,
) -> Prompt:
    """The messages to send: system prompt, the newest turns that fit, the question.

    CONTEXT_TOO_LONG when the system prompt and the question alone do not fit.
    """
    head = [ChatMessage("system", system_prompt)] if system_prompt else []
    tail = [ChatMessage("user", question)]
    budget = window(llm, params)
    used, _ = count_tokens(llm.model_id, llm.provider, head + tail)
    if used > budget:
        raise DomainError(
            f"The question and system prompt take {used} tokens; {llm.display_name} takes"
            f" {budget} with room for its answer.",
            field=["input", "content"],
            code=ErrorCode.CONTEXT_TOO_LONG,
        )
    kept: list[tuple[ChatMessage, int]] = []
    for role, content in turns_newest_first:
        message = ChatMessage("user" if role is MessageRole.USER else "assistant", content)
        cost, _ = count_tokens(llm.model_id, llm.provider, [message])
        if used + cost > budget:
            break
        kept.append((message, cost))
        used += cost
    kept.reverse()
    while kept and kept[0][0].role != "user":
        used -= kept.pop(0)[1]
    return Prompt(head + [message for message, _ in kept] + tail, used)


async def prompt_for(
    session: AsyncSession,
    question_id: uuid.UUID,
    llm: LLM,
    params: GenerationParams,
    system_prompt: str | None,
    limit: int,
) -> Prompt:
    """The messages that ask ``question_id`` of ``llm``, and their token count."""
    question = await session.get_one(Message, question_id)
    turns = await thread_before(session, question, limit)
    return fit(llm, params, system_prompt, turns, question.content)
