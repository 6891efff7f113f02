"""GraphQL inputs, payloads and stream events of sending and streaming answers."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

import strawberry

from synapse_gql.chat.resolution import Overrides
from synapse_gql.chat.service import Turn
from synapse_gql.chat.streams import Added, Finished
from synapse_gql.conversations.types import ConversationType, MessageType
from synapse_gql.errors import ErrorCode, stored_error_code
from synapse_gql.generation.prompts import Sampling
from synapse_gql.gql.errors import ErrorCodeType, SubscriptionRefused, UserError
from synapse_gql.gql.relay import decode_id, to_global_id
from synapse_gql.models import MessageStatus
from synapse_gql.realtime import Delta
from synapse_gql.usage.fields import call_usage_field


@strawberry.input(description="Optional changes to the configured model and sampling.")
class AnswerOptions:
    model: strawberry.ID | None = strawberry.field(
        default=None, description="A catalog model (LLM id) instead of the configured one."
    )
    temperature: Decimal | None = strawberry.field(default=None, description="0 to 2.")
    max_tokens: int | None = strawberry.field(
        default=None, description="1 to the model's maxOutputTokens."
    )
    top_p: Decimal | None = strawberry.field(default=None, description="Above 0, at most 1.")

    def overrides(self) -> Overrides:
        """The options as the service takes them (model id decoded)."""
        llm_id = None
        if self.model is not None:
            llm_id = decode_id(self.model, "LLM", field=["input", "model"])
        sampling = Sampling(self.temperature, self.max_tokens, self.top_p)
        return Overrides(llm_id=llm_id, sampling=sampling)


@strawberry.input(description="A question for the conversation's model.")
class SendMessageInput(AnswerOptions):
    conversation_id: strawberry.ID
    content: str = strawberry.field(description="1 to 100 000 characters.")


@strawberry.input(description="Answer again: an answer (replaced) or a question.")
class RegenerateMessageInput(AnswerOptions):
    message_id: strawberry.ID


@strawberry.input(description="Edit your question and answer the edited version.")
class EditMessageInput(AnswerOptions):
    message_id: strawberry.ID
    content: str = strawberry.field(description="1 to 100 000 characters.")


@strawberry.input(description="The streaming answer to stop.")
class StopGenerationInput:
    message_id: strawberry.ID


@strawberry.type(
    description="A question and its answer, which streams: subscribe to `messageStream`"
    " with the answer's id."
)
class ChatTurn:
    user_message: MessageType
    assistant_message: MessageType
    conversation: ConversationType

    @classmethod
    def from_turn(cls, turn: Turn) -> ChatTurn:
        return cls(
            user_message=MessageType.from_row(turn.question),
            assistant_message=MessageType.from_row(turn.answer),
            conversation=ConversationType.from_row(turn.conversation),
        )


ChatTurnResult = Annotated[ChatTurn | UserError, strawberry.union("ChatTurnResult")]


@strawberry.type(
    description="A piece of an answer. Sequences run 1, 2, 3 ... per answer; place `text` at"
    " `offset`, counted in UTF-16 code units of the answer (JavaScript string indices: an"
    " emoji outside the BMP counts 2). A catch-up delta may stand for several sequences"
    " (it carries the last one)."
)
class MessageDelta:
    message_id: strawberry.ID
    sequence: int
    offset: int
    text: str

    @classmethod
    def from_delta(cls, message_id: uuid.UUID, delta: Delta) -> MessageDelta:
        return cls(
            message_id=to_global_id("Message", message_id),
            sequence=delta.sequence,
            offset=delta.offset,
            text=delta.text,
        )


@strawberry.type(
    description="The answer ended: completed, or stopped (status CANCELLED, text so far kept)."
)
class MessageCompleted:
    usage_log_id: strawberry.Private[uuid.UUID | None]
    message: MessageType
    sequence: int = strawberry.field(description="The answer's last delta.")

    usage = call_usage_field("The usage log of the call that wrote the answer (null below member).")


@strawberry.type(description="The answer failed; the text so far is kept on the message.")
class MessageFailed:
    usage_log_id: strawberry.Private[uuid.UUID | None]
    message: MessageType
    sequence: int = strawberry.field(description="The answer's last delta.")
    code: ErrorCodeType
    error: str

    usage = call_usage_field(
        "The usage log of the last call (failed calls are charged; null below member)."
    )


@strawberry.type(description="A message was added to the conversation.")
class MessageAdded:
    message: MessageType


MessageStreamEvent = Annotated[
    MessageDelta | MessageCompleted | MessageFailed | SubscriptionRefused,
    strawberry.union("MessageStreamEvent"),
]
ConversationEvent = Annotated[
    MessageAdded | MessageDelta | MessageCompleted | MessageFailed | SubscriptionRefused,
    strawberry.union("ConversationEvent"),
]


def _code(value: str | None) -> ErrorCode:
    return stored_error_code(value) or ErrorCode.PROVIDER_ERROR


def ending(finished: Finished) -> MessageCompleted | MessageFailed:
    """The GraphQL event of an answer's end."""
    row = finished.message
    message = MessageType.from_row(row)
    if row.status is MessageStatus.FAILED:
        return MessageFailed(
            usage_log_id=finished.usage_log_id,
            message=message,
            sequence=finished.sequence,
            code=_code(row.error_code),
            error=row.error_message or "The answer failed.",
        )
    return MessageCompleted(
        usage_log_id=finished.usage_log_id, message=message, sequence=finished.sequence
    )


def added(item: Added) -> MessageAdded:
    """The GraphQL event of a new message."""
    return MessageAdded(message=MessageType.from_row(item.message))
