"""Step one of a call: which model (served by an enabled provider), which key, which price,
and the budget reservation."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.budgets import reservations
from synapse_gql.budgets.repository import Coverage
from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.generation.failures import MODEL_PATH
from synapse_gql.generation.keys import ResolvedKey, resolve_key
from synapse_gql.generation.prompts import recorded_parameters
from synapse_gql.llm import MOCK_PROVIDER, ChatMessage, GenerationParams, Provider
from synapse_gql.metering import cost, current_price
from synapse_gql.models import LLM, LLMPrice
from synapse_gql.state import AppState


@dataclass(frozen=True)
class ModelChoice:
    """A model ready to be called: catalog row, adapter, parameters, the paying key and
    the price period in force when the call was asked for (the call pays it)."""

    llm: LLM
    provider: Provider
    params: GenerationParams
    key: ResolvedKey
    price_id: uuid.UUID | None = None
    # The price period itself, so the reservation prices the worst case without reading it
    # again (None when the choice was built without one).
    price: LLMPrice | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def recorded(self) -> dict[str, Any]:
        """The parameters kept on the usage log (``system_prompt`` set by the caller)."""
        return recorded_parameters(self.params, system_prompt=False)


@dataclass(frozen=True)
class Prompt:
    """The messages to send a model and the tokens counted for them."""

    messages: list[ChatMessage]
    tokens: int


@dataclass(frozen=True)
class CallPlan:
    """A planned call: the model, its fallback (None: none), the system prompt, the budget
    reservation of its worst case (None: no budget covers it), and the primary model's
    prompt when the reservation counted it (the call sends that one instead of building
    it again; None: the call builds its prompt)."""

    primary: ModelChoice
    fallback: ModelChoice | None = None
    system_prompt: str | None = None
    reservation_id: uuid.UUID | None = None
    prompt: Prompt | None = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def choices(self) -> Sequence[ModelChoice]:
        """The models to try, in order."""
        return (self.primary,) if self.fallback is None else (self.primary, self.fallback)


def enabled_provider(providers: dict[str, Provider], llm: LLM) -> Provider:
    """The adapter serving ``llm``; MODEL_INACTIVE when this server does not offer it."""
    provider = providers.get(llm.provider)
    if provider is not None:
        return provider
    if llm.provider == MOCK_PROVIDER:
        message = (
            f"The development model {llm.model_id} is disabled on this server"
            " (SYNAPSE_MOCK_PROVIDER_ENABLED=false)."
        )
    else:
        message = f"The {llm.provider} provider is not enabled on this server."
    raise DomainError(message, field=MODEL_PATH, code=ErrorCode.MODEL_INACTIVE)


async def choose(
    session: AsyncSession,
    state: AppState,
    llm: LLM,
    provider: Provider,
    params: GenerationParams,
    payer: tuple[uuid.UUID, uuid.UUID],
    field: Sequence[str] = ("input", "model"),
) -> ModelChoice:
    """``llm`` with the key ``payer`` (user id, workspace id) pays with (API_KEY_MISSING
    at ``field``) and the price period in force now."""
    user_id, workspace_id = payer
    key = await resolve_key(
        session, state.keyring, state.settings, user_id, workspace_id, llm.provider, field=field
    )
    price = await current_price(session, llm.id)
    return ModelChoice(llm, provider, params, key, price.id, price)


PromptTokens = Callable[[ModelChoice], Awaitable[int]]


async def reserve(
    session: AsyncSession,
    coverage: Coverage,
    choices: Sequence[ModelChoice],
    prompt_tokens: PromptTokens,
    field: Sequence[str],
) -> uuid.UUID | None:
    """Reserve the worst case of every model the call may use (its prompt, and the whole
    answer allowed) on every budget covering it, or BUDGET_EXCEEDED at ``field``."""

    async def worst() -> Decimal:
        amount = Decimal(0)
        for choice in choices:
            output = choice.params.max_tokens or choice.llm.max_output_tokens
            tokens = await prompt_tokens(choice)
            if choice.price is not None:  # the period the call pays, read by ``choose``
                amount += cost(tokens, output, choice.price)
            else:
                amount += await reservations.worst_case(session, choice.llm.id, tokens, output)
        return amount

    return await reservations.reserve(session, coverage, worst, field)
