"""The rows of a feedback dataset and their JSON Lines, streamed in constant memory.

One statement over a server-side cursor (fetched ``FETCH_SIZE`` rows at a time): public
feedback on assistant answers, each joined ``LATERAL`` to its context, the messages of the
conversation before the answer in order, built by PostgreSQL as one JSON array (from the
``(conversation_id, created_at, id)`` index). The context leaves out, like the prompt a
model is shown, messages replaced by another (edited questions, regenerated answers),
answers to a replaced question and answers that did not complete with text (unlike the
prompt, it keeps the turns between an edited question and its edit). Each row becomes one
line with orjson, the context spliced in as the JSON PostgreSQL wrote.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Select, String, and_, case, cast, exists, func, or_, select, true, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from synapse_gql.datasets.links import DatasetRequest
from synapse_gql.feedback.summary import normalised_score
from synapse_gql.gql.relay import to_global_id
from synapse_gql.models import (
    LLM,
    Conversation,
    Message,
    MessageFeedback,
    MessageRole,
    MessageStatus,
    RatingType,
)

FETCH_SIZE = 500
ANSWERED = (MessageStatus.COMPLETED, MessageStatus.CANCELLED)
ORDER = (Message.conversation_id, Message.created_at, Message.id, MessageFeedback.id)


def context_of(answer: Any) -> Any:
    """LATERAL subquery: the JSON array ``[{role, content}]`` of the turns before the
    answer ``answer`` (columns ``conversation_id``, ``created_at``, ``message_id``) in its
    conversation, oldest first; ``[]`` when there is none."""
    prior, successor = aliased(Message), aliased(Message)
    kept = or_(
        prior.role != MessageRole.ASSISTANT,
        and_(
            prior.status.in_(ANSWERED),
            prior.content != "",
            ~exists().where(successor.parent_id == prior.reply_to_id),
        ),
    )
    turn = func.json_build_object("role", prior.role, "content", prior.content)
    turns = func.json_agg(aggregate_order_by(turn, prior.created_at, prior.id))
    return (
        select(func.coalesce(cast(turns, String), "[]").label("turns"))
        .where(
            prior.conversation_id == answer.conversation_id,
            tuple_(prior.created_at, prior.id) < tuple_(answer.created_at, answer.message_id),
            ~exists().where(successor.parent_id == prior.id),
            kept,
        )
        .lateral("context")
    )


def rated_answers(request: DatasetRequest) -> Any:
    """Public ratings of the workspace's answers in the range, ordered by conversation and
    answer; ``OFFSET 0`` keeps PostgreSQL from merging it into the outer query, so the
    contexts are built row by row as the cursor reads, never all before the first row."""
    scale = case(
        (MessageFeedback.rating_type == RatingType.THUMBS, 1),
        (MessageFeedback.rating_type == RatingType.STARS, 5),
        else_=MessageFeedback.scale_max,
    )
    stmt = (
        select(
            MessageFeedback.id,
            Message.id.label("message_id"),
            Message.conversation_id,
            Message.created_at,
            Message.llm_id,
            Message.content.label("answer"),
            MessageFeedback.rating_type,
            MessageFeedback.value,
            scale.label("scale"),
            normalised_score().label("score"),
            MessageFeedback.category,
            MessageFeedback.improvement_suggestion,
            MessageFeedback.created_at.label("rated_at"),
        )
        .join(Message, Message.id == MessageFeedback.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            MessageFeedback.is_public.is_(True),
            Message.role == MessageRole.ASSISTANT,
            Conversation.workspace_id == request.workspace_id,
            MessageFeedback.created_at >= request.start,
            MessageFeedback.created_at < request.end,
        )
        .order_by(*ORDER)
        .offset(0)
    )
    if request.project_ids:
        stmt = stmt.where(Conversation.project_id.in_(request.project_ids))
    if request.llm_ids:
        stmt = stmt.where(Message.llm_id.in_(request.llm_ids))
    return stmt.subquery("rated")


def dataset_statement(request: DatasetRequest) -> Select[Any]:
    """Each public rating of an answer with its model and context, in the order of
    ``rated_answers``."""
    rated = rated_answers(request)
    context = context_of(rated.c)
    return (
        select(rated, LLM.provider, LLM.model_id, context.c.turns)
        .select_from(rated)
        .outerjoin(LLM, LLM.id == rated.c.llm_id)
        .join(context, true())
        .order_by(rated.c.conversation_id, rated.c.created_at, rated.c.message_id, rated.c.id)
    )


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def line_of(row: Any) -> bytes:
    """One dataset line: ids, the context, the answer, the model and the rating."""
    model = None if row.provider is None else f"{row.provider}/{row.model_id}"
    record = {
        "id": to_global_id("MessageFeedback", row.id),
        "conversationId": to_global_id("Conversation", row.conversation_id),
        "messageId": to_global_id("Message", row.message_id),
        "context": orjson.Fragment(row.turns),
        "answer": row.answer,
        "model": model,
        "rating": {
            "type": row.rating_type.name,
            "value": _number(row.value),
            "scale": _number(row.scale),
            "score": _number(row.score),
        },
        "category": None if row.category is None else row.category.name,
        "suggestion": row.improvement_suggestion,
        "ratedAt": row.rated_at,
    }
    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_UTC_Z)


async def dataset_lines(
    connection: AsyncConnection, request: DatasetRequest
) -> AsyncIterator[bytes]:
    """The dataset's lines, read through a server-side cursor ``FETCH_SIZE`` rows at a time."""
    stmt = dataset_statement(request).execution_options(yield_per=FETCH_SIZE)
    result = await connection.stream(stmt)
    async for row in result:
        yield line_of(row)
