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
from functools import cache

from sqlalchemy import BindParameter, Select, and_, bindparam, exists, or_, select, tuple_
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


def _at(name: str) -> BindParameter[datetime]:
    return bindparam(name, type_=Message.__table__.c.created_at.type)


def _id(name: str) -> BindParameter[uuid.UUID]:
    return bindparam(name, type_=Message.__table__.c.id.type)


@cache
def _abandoned_spans_statement() -> Select[datetime, datetime]:
    """The edits of a conversation (``:conversation_id``) made before ``(:before_at,
    :before_id)``: (original question's time, edit's time). Built once, its values bound."""
    original = aliased(Message, name="original")
    return (
        select(original.created_at, Message.created_at)
        .join(original, original.id == Message.parent_id)
        .where(
            Message.conversation_id == bindparam("conversation_id"),
            Message.role == MessageRole.USER,
            original.role == MessageRole.USER,
            tuple_(Message.created_at, Message.id) < tuple_(_at("before_at"), _id("before_id")),
        )
    )


async def _abandoned_spans(
    session: AsyncSession, conversation_id: uuid.UUID, before: tuple[datetime, uuid.UUID]
) -> list[tuple[datetime, datetime]]:
    """For each edit made before ``before``: the time from the original question to its edit,
    when the turns that followed the original belong to the abandoned branch."""
    values = {"conversation_id": conversation_id, "before_at": before[0], "before_id": before[1]}
    rows = (await session.execute(_abandoned_spans_statement(), values)).all()
    return [(row[0], row[1]) for row in rows]


@cache
def _thread_statement() -> Select[MessageRole, str, datetime]:
    """Up to ``:limit`` turns of a conversation (``:conversation_id``) before ``(:cutoff_at,
    :cutoff_id)``, newest first, less what was replaced. Built once (an aliased entity and
    its adapted columns cost more to build than the query takes to run), values bound."""
    successor = aliased(Message, name="successor")
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
    return (
        select(Message.role, Message.content, Message.created_at)
        .where(
            Message.conversation_id == bindparam("conversation_id"),
            tuple_(Message.created_at, Message.id) < tuple_(_at("cutoff_at"), _id("cutoff_id")),
            ~replaced,
            or_(Message.role == MessageRole.USER, answered),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(bindparam("limit"))
    )


async def thread_before(
    session: AsyncSession, question: Message, limit: int
) -> list[tuple[MessageRole, str]]:
    """Up to ``limit`` turns of the question's thread, newest first."""
    original = await _original(session, question)
    cutoff = (original.created_at, original.id)
    values = {
        "conversation_id": question.conversation_id,
        "cutoff_at": cutoff[0],
        "cutoff_id": cutoff[1],
        "limit": limit,
    }
    rows = (await session.execute(_thread_statement(), values)).all()
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
