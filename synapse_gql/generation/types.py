"""GraphQL inputs and types of generation and token counting."""

from __future__ import annotations

import uuid
from decimal import Decimal

import strawberry

from synapse_gql.context import Info
from synapse_gql.conversations.types import MessageRoleType
from synapse_gql.generation.counting import TokenTally
from synapse_gql.generation.service import Generation
from synapse_gql.gql.refs import UsageLogRef
from synapse_gql.llm import ChatMessage


@strawberry.input(description="One turn of a chat.")
class ChatMessageInput:
    role: MessageRoleType
    content: str


def chat_messages(items: list[ChatMessageInput] | None) -> list[ChatMessage] | None:
    """The inputs as provider-neutral messages (None stays None)."""
    if items is None:
        return None
    return [ChatMessage(item.role.value, item.content) for item in items]


@strawberry.input(description="A one-shot call of a catalog model: a prompt or messages.")
class GenerateInput:
    workspace_id: strawberry.ID = strawberry.field(description="The workspace that pays.")
    model: strawberry.ID = strawberry.field(description="The catalog model (an LLM id).")
    prompt: str | None = strawberry.field(
        default=None, description="A single user message; give this or messages."
    )
    messages: list[ChatMessageInput] | None = strawberry.field(
        default=None, description="The chat so far; give this or prompt."
    )
    system_prompt: str | None = None
    temperature: Decimal | None = strawberry.field(default=None, description="0 to 2.")
    max_tokens: int | None = strawberry.field(
        default=None, description="1 to the model's maxOutputTokens."
    )
    top_p: Decimal | None = strawberry.field(default=None, description="Above 0, at most 1.")


@strawberry.type(name="Generation", description="The reply of a one-shot call, and its cost.")
class GenerationType:
    usage_log_id: strawberry.Private[uuid.UUID]
    text: str
    finish_reason: str | None
    input_tokens: int
    output_tokens: int
    tokens_estimated: bool = strawberry.field(
        description="True when the provider reported no usage and tokens were counted locally."
    )
    cost: Decimal
    latency_ms: int
    time_to_first_token_ms: int | None

    @classmethod
    def from_result(cls, result: Generation) -> GenerationType:
        outcome = result.outcome
        return cls(
            usage_log_id=result.usage_log_id,
            text=outcome.text,
            finish_reason=outcome.finish_reason,
            input_tokens=outcome.usage.input_tokens,
            output_tokens=outcome.usage.output_tokens,
            tokens_estimated=outcome.usage.estimated,
            cost=result.cost,
            latency_ms=outcome.latency_ms,
            time_to_first_token_ms=outcome.time_to_first_token_ms,
        )

    @strawberry.field(description="The usage log metering this call.")
    async def usage_log(self, info: Info) -> UsageLogRef | None:
        from synapse_gql.usage.types import load_usage_log

        return await load_usage_log(info, self.usage_log_id)


@strawberry.type(description="How many tokens a text or a chat is for a model.")
class TokenCount:
    count: int
    exact: bool = strawberry.field(
        description="True when counted with the model's own tokenizer (OpenAI models)."
    )
    method: str = strawberry.field(
        description="`tiktoken:<encoding>` when exact, else the estimate's formula:"
        " ceil(characters / 4) per text, plus 4 tokens per chat message."
    )

    @classmethod
    def from_tally(cls, tally: TokenTally) -> TokenCount:
        return cls(count=tally.count, exact=tally.exact, method=tally.method)
