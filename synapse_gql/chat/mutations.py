"""Mutations that ask the conversation's model: send, regenerate, edit, stop."""

from __future__ import annotations

import strawberry

from synapse_gql.chat import service
from synapse_gql.chat.types import (
    ChatTurn,
    ChatTurnResult,
    EditMessageInput,
    RegenerateMessageInput,
    SendMessageInput,
    StopGenerationInput,
)
from synapse_gql.context import Info
from synapse_gql.conversations.mutations import MessageResult
from synapse_gql.conversations.types import MessageType
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id

MESSAGE_ID = ["input", "messageId"]


@strawberry.type
class ChatMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Ask a question (members): saves it, starts the answer, returns both at"
        " once; the answer streams over `messageStream`.",
    )
    async def send_message(self, info: Info, input: SendMessageInput) -> ChatTurnResult:
        viewer = info.context.require_viewer()
        conversation_id = decode_id(
            input.conversation_id, "Conversation", field=["input", "conversationId"]
        )
        turn = await service.send_message(
            info.context.state, viewer.id, conversation_id, input.content, input.overrides()
        )
        return ChatTurn.from_turn(turn)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Answer again: a new answer replaces the given one (kept as its parent),"
        " or answers the given question anew.",
    )
    async def regenerate_message(self, info: Info, input: RegenerateMessageInput) -> ChatTurnResult:
        viewer = info.context.require_viewer()
        message_id = decode_id(input.message_id, "Message", field=MESSAGE_ID)
        turn = await service.regenerate_message(
            info.context.state, viewer.id, message_id, input.overrides()
        )
        return ChatTurn.from_turn(turn)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Edit your question: a new message replaces it (the original is kept as"
        " its parent) and is answered with the conversation as it was before the original.",
    )
    async def edit_message(self, info: Info, input: EditMessageInput) -> ChatTurnResult:
        viewer = info.context.require_viewer()
        message_id = decode_id(input.message_id, "Message", field=MESSAGE_ID)
        turn = await service.edit_message(
            info.context.state, viewer.id, message_id, input.content, input.overrides()
        )
        return ChatTurn.from_turn(turn)

    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Stop a streaming answer: its text so far is kept, status CANCELLED, and"
        " the call is charged for what it used. An ended answer is returned as it is.",
    )
    async def stop_generation(self, info: Info, input: StopGenerationInput) -> MessageResult:
        viewer = info.context.require_viewer()
        decoded = decode_id(input.message_id, "Message", field=MESSAGE_ID)
        row = await service.stop_generation(info.context.state, viewer.id, decoded)
        return MessageType.from_row(row)
