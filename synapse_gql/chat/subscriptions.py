"""Subscriptions: an answer's tokens as they are written, and a conversation's news.

Both protocols (graphql-transport-ws, legacy graphql-ws) authenticate at connection init;
a subscription is refused with a ``SubscriptionRefused`` event when the viewer cannot read the
message or conversation (the same NOT_FOUND as for an id that does not exist).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import strawberry

from synapse_gql.chat.streams import (
    Added,
    AnswerDelta,
    Finished,
    answer_events,
    conversation_events,
)
from synapse_gql.chat.types import (
    ConversationEvent,
    MessageDelta,
    MessageStreamEvent,
    SubscriptionRefused,
    added,
    ending,
)
from synapse_gql.context import Info
from synapse_gql.conversations import repository
from synapse_gql.errors import DomainError, InvalidInput, NotFound
from synapse_gql.gql.loaders import Loaders
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import Conversation, MemberRole, Message, MessageRole
from synapse_gql.workspaces.access import require_role


async def _readable_answer(info: Info, message_id: uuid.UUID) -> Message:
    viewer = info.context.require_viewer()
    async with info.context.sessions() as session:
        found = await repository.message_with_conversation(session, message_id)
        if found is None:
            raise NotFound("No such message.", field=["messageId"])
        message, conversation = found
        await require_role(
            session,
            conversation.workspace_id,
            viewer.id,
            MemberRole.VIEWER,
            field=["messageId"],
            what="message",
        )
    if message.role is not MessageRole.ASSISTANT:
        raise InvalidInput("Only answers stream; this is a user message.", field=["messageId"])
    return message


async def _readable_conversation(info: Info, conversation_id: uuid.UUID) -> Conversation:
    viewer = info.context.require_viewer()
    async with info.context.sessions() as session:
        conversation = await session.get(Conversation, conversation_id)
        if conversation is None:
            raise NotFound("No such conversation.", field=["conversationId"])
        await require_role(
            session,
            conversation.workspace_id,
            viewer.id,
            MemberRole.VIEWER,
            field=["conversationId"],
            what="conversation",
        )
    return conversation


def _fresh_loaders(info: Info) -> None:
    """Events resolve nested fields long after the connection opened: no stale cache."""
    info.context.loaders = Loaders(info.context.sessions)


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
            message = await _readable_answer(
                info, decode_id(message_id, "Message", field=["messageId"])
            )
        except DomainError as error:
            yield SubscriptionRefused.from_exception(error)
            return
        async for item in answer_events(info.context.state, message, after_sequence):
            if isinstance(item, Finished):
                _fresh_loaders(info)
                yield ending(item)
            elif isinstance(item, AnswerDelta):
                yield MessageDelta.from_delta(item.message_id, item.delta)

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
            conversation = await _readable_conversation(info, decoded)
        except DomainError as error:
            yield SubscriptionRefused.from_exception(error)
            return
        async for item in conversation_events(info.context.state, conversation.id):
            if isinstance(item, Finished):
                _fresh_loaders(info)
                yield ending(item)
            elif isinstance(item, Added):
                _fresh_loaders(info)
                yield added(item)
            else:
                yield MessageDelta.from_delta(item.message_id, item.delta)
