"""The SQL of metering. Every running total is an increment done by the database, never a
read-modify-write in Python, so concurrent calls on one conversation cannot lose updates."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from synapse_gql.models import (
    Conversation,
    ConversationLLM,
    Message,
    MessageRole,
)


def _refresh_cached(session: AsyncSession, model: type, key: Any, values: Mapping) -> None:
    """Give an object the session already holds the values the database just returned."""
    cached = session.sync_session.identity_map.get(identity_key(model, key))
    if cached is not None:
        for name, value in values.items():
            set_committed_value(cached, name, value)


@cache
def _message_increment() -> Any:
    """UPDATE of an assistant message (``:message_id``) adding a call: built once (building
    a statement costs more than running it), its values bound."""
    return (
        update(Message)
        .where(Message.id == bindparam("message_id"), Message.role == MessageRole.ASSISTANT)
        .values(
            input_tokens=func.coalesce(Message.input_tokens, 0) + bindparam("input_tokens"),
            output_tokens=func.coalesce(Message.output_tokens, 0) + bindparam("output_tokens"),
            cost=func.coalesce(Message.cost, 0) + bindparam("cost", type_=Message.cost.type),
            latency_ms=bindparam("latency_ms"),
            time_to_first_token_ms=bindparam("time_to_first_token_ms"),
            llm_id=bindparam("llm_id"),
            finish_reason=bindparam("finish_reason"),
            updated_at=func.now(),
        )
        .returning(
            Message.input_tokens,
            Message.output_tokens,
            Message.cost,
            Message.latency_ms,
            Message.time_to_first_token_ms,
            Message.llm_id,
            Message.finish_reason,
            Message.updated_at,
        )
        .execution_options(synchronize_session=False)
    )


async def add_to_message(
    session: AsyncSession,
    message_id: uuid.UUID,
    *,
    input_tokens: int,
    output_tokens: int,
    cost: Decimal,
    latency_ms: int | None,
    time_to_first_token_ms: int | None,
    llm_id: uuid.UUID,
    finish_reason: str | None,
) -> None:
    """Add a call's tokens and cost to an assistant message and set its latency and model."""
    values = {
        "message_id": message_id,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": cost,
        "latency_ms": latency_ms,
        "time_to_first_token_ms": time_to_first_token_ms,
        "llm_id": llm_id,
        "finish_reason": finish_reason,
    }
    row = (await session.execute(_message_increment(), values)).one_or_none()
    if row is None:
        raise ValueError(f"Message {message_id} is not an assistant message.")
    _refresh_cached(session, Message, message_id, row._asdict())


@cache
def _conversation_increment() -> Any:
    """UPDATE of a conversation's totals (``:conversation_id``), built once."""
    return (
        update(Conversation)
        .where(Conversation.id == bindparam("conversation_id"))
        .values(
            total_input_tokens=Conversation.total_input_tokens + bindparam("input_tokens"),
            total_output_tokens=Conversation.total_output_tokens + bindparam("output_tokens"),
            total_cost=Conversation.total_cost + bindparam("cost"),
            updated_at=func.now(),
        )
        .returning(
            Conversation.total_input_tokens,
            Conversation.total_output_tokens,
            Conversation.total_cost,
            Conversation.updated_at,
        )
        .execution_options(synchronize_session=False)
    )


async def add_to_conversation(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    *,
    input_tokens: int,
    output_tokens: int,
    cost: Decimal,
) -> None:
    """Add a call's tokens and cost to the conversation's totals in one UPDATE."""
    values = {
        "conversation_id": conversation_id,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": cost,
    }
    row = (await session.execute(_conversation_increment(), values)).one_or_none()
    if row is not None:
        _refresh_cached(session, Conversation, conversation_id, row._asdict())


@cache
def _conversation_llm_upsert() -> Any:
    """INSERT ... ON CONFLICT counting a call in a (conversation, LLM) aggregate, built once
    (its ``excluded`` alias alone costs more to build than the statement takes to run)."""
    table = cast(Table, ConversationLLM.__table__)
    stmt = pg_insert(table).values(
        id=bindparam("id"),
        conversation_id=bindparam("conversation_id"),
        llm_id=bindparam("llm_id"),
        call_count=1,
        input_tokens=bindparam("input_tokens"),
        output_tokens=bindparam("output_tokens"),
        total_cost=bindparam("cost"),
        total_latency_ms=bindparam("latency_ms"),
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.conversation_id, table.c.llm_id],
        set_={
            "call_count": table.c.call_count + 1,
            "input_tokens": table.c.input_tokens + stmt.excluded.input_tokens,
            "output_tokens": table.c.output_tokens + stmt.excluded.output_tokens,
            "total_cost": table.c.total_cost + stmt.excluded.total_cost,
            "total_latency_ms": table.c.total_latency_ms + stmt.excluded.total_latency_ms,
            "last_used_at": func.now(),
        },
    ).returning(
        table.c.id,
        table.c.call_count,
        table.c.input_tokens,
        table.c.output_tokens,
        table.c.total_cost,
        table.c.total_latency_ms,
        table.c.last_used_at,
    )


async def upsert_conversation_llm(
    session: AsyncSession,
    conversation_id: uuid.UUID,
    llm_id: uuid.UUID,
    *,
    input_tokens: int,
    output_tokens: int,
    cost: Decimal,
    latency_ms: int,
) -> None:
    """Count one call in the (conversation, LLM) aggregate, creating it on first use."""
    values = {
        "id": uuid.uuid4(),
        "conversation_id": conversation_id,
        "llm_id": llm_id,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": cost,
        "latency_ms": latency_ms,
    }
    row = dict((await session.execute(_conversation_llm_upsert(), values)).one()._asdict())
    _refresh_cached(session, ConversationLLM, row.pop("id"), row)
