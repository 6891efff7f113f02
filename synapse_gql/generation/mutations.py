"""The ``generate`` mutation."""

from __future__ import annotations

from typing import Annotated

import strawberry

from synapse_gql.context import Info
from synapse_gql.generation import service
from synapse_gql.generation.prompts import Sampling
from synapse_gql.generation.types import GenerateInput, GenerationType, chat_messages
from synapse_gql.gql.errors import UserError
from synapse_gql.gql.permissions import AUTHENTICATED
from synapse_gql.gql.relay import decode_id

GenerateResult = Annotated[GenerationType | UserError, strawberry.union("GenerateResult")]


@strawberry.type
class GenerationMutation:
    @strawberry.mutation(
        permission_classes=AUTHENTICATED,
        description="Call a catalog model once and return its whole reply (members and"
        " above). The call is metered, failed ones too.",
    )
    async def generate(self, info: Info, input: GenerateInput) -> GenerateResult:
        viewer = info.context.require_viewer()
        request = service.GenerateRequest(
            workspace_id=decode_id(input.workspace_id, "Workspace", field=["input", "workspaceId"]),
            llm_id=decode_id(input.model, "LLM", field=["input", "model"]),
            prompt=input.prompt,
            messages=chat_messages(input.messages),
            system_prompt=input.system_prompt,
            sampling=Sampling(input.temperature, input.max_tokens, input.top_p),
        )
        result = await service.generate(info.context.state, viewer.id, request)
        return GenerationType.from_result(result)
