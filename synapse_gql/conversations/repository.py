"""SQL for conversations and messages: list filters, sort keys, counters."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from synapse_gql.gql.pagination import SortKey
from synapse_gql.models import Conversation, ConversationStatus, ConversationTag, Message


class ConversationOrder(enum.Enum):
    LAST_ACTIVITY = "last_activity"
    CREATED = "created"


class TagMatch(enum.Enum):
    ANY = "any"
    ALL = "all"


@dataclass(frozen=True)
class Criteria:
    """Decoded filters of a conversation list; hashable, so it can name the batched list."""

    project_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    status: ConversationStatus | None = None
    tag_ids: tuple[uuid.UUID, ...] = ()
    tag_match: TagMatch = TagMatch.ANY
    title_contains: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None


def escape_like(value: str) -> str:
    """``value`` with the LIKE wildcards and the escape character taken literally."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _tag_condition(criteria: Criteria) -> ColumnElement[bool]:
    tagged = select(ConversationTag.conversation_id).where(
        ConversationTag.tag_id.in_(criteria.tag_ids)
    )
    if criteria.tag_match is TagMatch.ALL:
        tagged = tagged.group_by(ConversationTag.conversation_id).having(
            func.count(ConversationTag.tag_id.distinct()) == len(set(criteria.tag_ids))
        )
    return Conversation.id.in_(tagged)


def conditions(criteria: Criteria) -> list[ColumnElement[bool]]:
    """``WHERE`` terms for ``criteria`` (dates: after is inclusive, before exclusive)."""
    c = criteria
    terms: list[ColumnElement[bool]] = []
    if c.project_id is not None:
        terms.append(Conversation.project_id == c.project_id)
    if c.agent_id is not None:
        terms.append(Conversation.agent_id == c.agent_id)
    if c.status is not None:
        terms.append(Conversation.status == c.status)
    if c.tag_ids:
        terms.append(_tag_condition(c))
    if c.title_contains:
        terms.append(Conversation.title.ilike(f"%{escape_like(c.title_contains)}%", escape="\\"))
    for column, after, before in (
        (Conversation.created_at, c.created_after, c.created_before),
        (Conversation.updated_at, c.updated_after, c.updated_before),
    ):
        if after is not None:
            terms.append(column >= after)
        if before is not None:
            terms.append(column < before)
    return terms


def sort_key(order: ConversationOrder) -> SortKey:
    """Newest activity first, or newest created first."""
    if order is ConversationOrder.CREATED:
        return SortKey(Conversation.created_at, Conversation.id)
    activity = func.coalesce(Conversation.last_message_at, Conversation.created_at)
    return SortKey(activity, Conversation.id)


async def message_with_conversation(
    session: AsyncSession, message_id: uuid.UUID
) -> tuple[Message, Conversation] | None:
    stmt = (
        select(Message, Conversation)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id == message_id)
    )
    found = (await session.execute(stmt)).first()
    return None if found is None else (found[0], found[1])


_COUNTED = ("message_count", "last_message_at", "updated_at")


@cache
def _count_new_messages() -> Any:
    """The UPDATE counting ``:count`` messages in ``:conversation_id`` and returning the
    columns it changed, built once (it runs for every question)."""
    return (
        update(Conversation)
        .where(Conversation.id == bindparam("conversation_id"))
        .values(
            message_count=Conversation.message_count + bindparam("count", type_=Integer),
            last_message_at=func.now(),
            updated_at=func.now(),
        )
        .returning(*(getattr(Conversation, name) for name in _COUNTED))
        .execution_options(synchronize_session=False)
    )


@cache
def _lock_conversation() -> Any:
    return (
        select(Conversation.id)
        .where(Conversation.id == bindparam("conversation_id"))
        .with_for_update(key_share=True)
    )


async def lock_conversation(session: AsyncSession, conversation_id: uuid.UUID) -> None:
    """Lock the conversation's row as an UPDATE of it would (``FOR NO KEY UPDATE``)
    until the transaction ends."""
    await session.execute(_lock_conversation(), {"conversation_id": conversation_id})


async def count_new_message(session: AsyncSession, conversation_id: uuid.UUID) -> None:
    """One more message, now: incremented in SQL so concurrent writers never lose a count."""
    values = {"conversation_id": conversation_id, "count": 1}
    await session.execute(_count_new_messages(), values)


async def count_new_messages(session: AsyncSession, conversation: Conversation, count: int) -> None:
    """``count`` more messages in ``conversation``, now (incremented in SQL, so concurrent
    writers never lose a count); the loaded ``conversation`` gets the new count and times
    without being read again."""
    values = {"conversation_id": conversation.id, "count": count}
    counted = (await session.execute(_count_new_messages(), values)).one()
    for name, value in zip(_COUNTED, counted, strict=True):
        set_committed_value(conversation, name, value)
