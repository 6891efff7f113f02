"""The ``countTokens`` query."""

from __future__ import annotations

import strawberry

from synapse_gql.context import Info
from synapse_gql.errors import NotFound
from synapse_gql.generation.counting import tally
from synapse_gql.generation.types import ChatMessageInput, TokenCount, chat_messages
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id
from synapse_gql.models import LLM


@strawberry.type
class GenerationQuery:
    @strawberry.field(
        permission_classes=AUTHENTICATED,
        description="Count the tokens of a text or of chat messages (exactly one) for a model:"
        " exact for OpenAI models, estimated for the others.",
    )
    async def count_tokens(
        self,
        info: Info,
        model: strawberry.ID,
        text: str | None = None,
        messages: list[ChatMessageInput] | None = None,
    ) -> TokenCount:
        llm_id = decode_id(model, "LLM", field=["model"])
        llm = await info.context.loaders.by_id(LLM).load(llm_id)
        if llm is None:
            raise NotFound("No such model in the catalog.", field=["model"])
        return TokenCount.from_tally(tally(llm, text, chat_messages(messages)))
