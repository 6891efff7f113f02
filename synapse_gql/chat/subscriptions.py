"""Subscriptions: an answer's tokens as they are written, and a conversation's news.

Both protocols (graphql-transport-ws, legacy graphql-ws) authenticate at connection init;
a subscription is refused with a ``SubscriptionRefused`` event when the viewer cannot read the
message or conversation (the same NOT_FOUND as for an id that does not exist). The check
runs again whenever the viewer's rights change (removed, workspace deleted): a subscription
that no longer passes ends with ``SubscriptionRefused``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from functools import partial

import strawberry
from sqlalchemy import select

from synapse_gql.chat.streams import (
    Added,
    AnswerDelta,
    Finished,
    answer_events,
    conversation_events,
)
from synapse_gql.chat.types import (
    ConversationEvent,
    MessageAdded,
    MessageCompleted,
    MessageDelta,
    MessageFailed,
    MessageStreamEvent,
    SubscriptionRefused,
    added,
    ending,
)
from synapse_gql.context import Context, Info
from synapse_gql.conversations.access import conversation_for
from synapse_gql.errors import DomainError, InvalidInput, NotFound
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import Conversation, MemberRole, Message, MessageRole
from synapse_gql.realtime.admission import subscribe_slot
from synapse_gql.realtime.guard import watched
from synapse_gql.workspaces.membership import readable_workspaces


async def readable_answer(context: Context, message_id: uuid.UUID) -> Message:
    """The answer ``message_id`` when the viewer may stream it (any role in its workspace,
    checked in the same statement that reads it: one round trip on the subscribe's path);
    ``DomainError`` (NOT_FOUND, as for an id that does not exist; INVALID_INPUT)
    otherwise."""
    viewer = context.require_viewer()
    member_of = readable_workspaces(viewer.id)
    stmt = (
        select(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id == message_id, Conversation.workspace_id.in_(member_of))
    )
    async with context.sessions() as session:
        message = await session.scalar(stmt)
    if message is None:
        raise NotFound("No such message.", field=["messageId"])
    if message.role is not MessageRole.ASSISTANT:
        raise InvalidInput("Only answers stream; this is a user message.", field=["messageId"])
    return message


async def _readable_answer(info: Info, message_id: uuid.UUID) -> Message:
    return await readable_answer(info.context, message_id)


async def _readable_conversation(info: Info, conversation_id: uuid.UUID) -> Conversation:
    viewer = info.context.require_viewer()
    async with info.context.sessions() as session:
        return await conversation_for(
            session, viewer.id, conversation_id, MemberRole.VIEWER, ["conversationId"]
        )


async def _answer_stream(
    info: Info, message: Message, after_sequence: int
) -> AsyncIterator[MessageDelta | MessageCompleted | MessageFailed]:
    async for item in answer_events(info.context.state, message, after_sequence):
        if isinstance(item, Finished):
            info.context.refresh_loaders()
            yield ending(item)
        elif isinstance(item, AnswerDelta):
            yield MessageDelta.from_delta(item.message_id, item.delta)


async def _conversation_stream(
    info: Info, conversation_id: uuid.UUID
) -> AsyncIterator[MessageAdded | MessageDelta | MessageCompleted | MessageFailed]:
    async for item in conversation_events(info.context.state, conversation_id):
        if isinstance(item, Finished):
            info.context.refresh_loaders()
            yield ending(item)
        elif isinstance(item, Added):
            info.context.refresh_loaders()
            yield added(item)
        else:
            yield MessageDelta.from_delta(item.message_id, item.delta)


@strawberry.type
class ChatSubscription:
    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="An answer as it is written: the deltas after `afterSequence` (those"
        " written before you subscribed first), then `MessageCompleted` or `MessageFailed`.",
    )
    async def message_stream(
        self, info: Info, message_id: strawberry.ID, after_sequence: int = 0
    ) -> AsyncGenerator[MessageStreamEvent, None]:
        try:
            async with subscribe_slot(info.context.state):
                message = await _readable_answer(
                    info, decode_id(message_id, "Message", field=["messageId"])
                )
        except DomainError as error:
            yield SubscriptionRefused.from_exception(error)
            return
        check = partial(_readable_answer, info, message.id)
        async for event in watched(info, check, _answer_stream(info, message, after_sequence)):
            yield event

    @strawberry.subscription(
        permission_classes=AUTHENTICATED,
        description="A conversation's news: messages added, and the deltas and end of every"
        " answer (answers already streaming are caught up from their start).",
    )
    async def conversation_events(
        self, info: Info, conversation_id: strawberry.ID
    ) -> AsyncGenerator[ConversationEvent, None]:
        try:
            decoded = decode_id(conversation_id, "Conversation", field=["conversationId"])
            async with subscribe_slot(info.context.state):
                conversation = await _readable_conversation(info, decoded)
        except DomainError as error:
            yield SubscriptionRefused.from_exception(error)
            return
        check = partial(_readable_conversation, info, conversation.id)
        async for event in watched(info, check, _conversation_stream(info, conversation.id)):
            yield event
