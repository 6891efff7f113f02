"""Which model answers, with which parameters and key.

The model: the request's override, else the conversation's agent's, else the workspace's
default, else the server's ``SYNAPSE_DEFAULT_MODEL``; it must be active and its provider
enabled. The fallback: the agent's, else the workspace's; it is used only when usable
(active, enabled, a key found), since a broken fallback must not block the main model.
Sampling: the request's values, else the agent's; extra provider parameters from the agent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.agents.service import active_llm
from synapse_gql.budgets.caller import request_api_token
from synapse_gql.budgets.repository import Coverage
from synapse_gql.budgets.reservations import RESERVATION_KEY
from synapse_gql.chat.history import prompt_for, window
from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.generation.prompts import Sampling, generation_params
from synapse_gql.llm import RESERVED_PARAMETERS, GenerationParams, Provider
from synapse_gql.models import LLM, Agent, Conversation, Workspace
from synapse_gql.pipeline.plan import (
    CallPlan,
    ModelChoice,
    Prompt,
    choose,
    enabled_provider,
    reserve,
)
from synapse_gql.state import AppState

MODEL_PATH = ["input", "model"]
# Errors of the configured model (agent, workspace, server) point at the conversation.
CONFIGURED_PATH = ["input", "conversationId"]
REQUEST_FIELDS = {"model", "temperature", "maxTokens", "topP", "content"}


@dataclass(frozen=True, kw_only=True)
class Overrides:
    """What a request may change for one answer; None keeps the configured value."""

    llm_id: uuid.UUID | None = None
    sampling: Sampling = field(default_factory=Sampling)


def generation_info(plan: CallPlan, user_id: uuid.UUID) -> dict[str, Any]:
    """What the answer's message keeps so a crashed generation can still be metered."""
    primary = plan.primary
    price_id = primary.price_id
    return {
        "llm_id": str(primary.llm.id),
        "provider": primary.llm.provider,
        "model_id": primary.llm.model_id,
        "key_source": primary.key.source.value,
        "llm_price_id": None if price_id is None else str(price_id),
        "parameters": {**primary.recorded, "system_prompt": bool(plan.system_prompt)},
        "user_id": str(user_id),
        "api_token_id": str(token) if (token := request_api_token()) else None,
        RESERVATION_KEY: str(plan.reservation_id) if plan.reservation_id else None,
        # The prompt's size when the plan has it (else the generation notes it once built).
        **({"prompt_tokens": plan.prompt.tokens} if plan.prompt is not None else {}),
    }


@dataclass(frozen=True)
class Target:
    """The model and sampling an answer uses, checked, before keys and budget."""

    llm: LLM
    provider: Provider
    params: GenerationParams
    sampling: Sampling
    agent: Agent | None
    workspace: Workspace
    path: list[str] = field(default_factory=lambda: list(CONFIGURED_PATH))
    project_id: uuid.UUID | None = None


def _sampling(agent: Agent | None, given: Sampling) -> Sampling:
    if agent is None:
        return given
    return Sampling(
        temperature=given.temperature if given.temperature is not None else agent.temperature,
        max_tokens=given.max_tokens if given.max_tokens is not None else agent.max_tokens,
        top_p=given.top_p if given.top_p is not None else agent.top_p,
    )


async def _configured_llm(
    session: AsyncSession, state: AppState, agent: Agent | None, workspace: Workspace
) -> LLM:
    """The agent's model, else the workspace's default, else the server's."""
    if agent is not None:
        return await active_llm(session, agent.llm_id, CONFIGURED_PATH)
    if workspace.default_llm_id is not None:
        return await active_llm(session, workspace.default_llm_id, CONFIGURED_PATH)
    provider, _, model_id = state.settings.default_model.partition("/")
    llm = await session.scalar(
        select(LLM).where(LLM.provider == provider, LLM.model_id == model_id)
    )
    if llm is None or not llm.is_active:
        raise DomainError(
            "No model to answer with: give one, or set it on the agent, the workspace"
            f" (defaultLlmId) or SYNAPSE_DEFAULT_MODEL (now {state.settings.default_model!r},"
            " not an active catalog model).",
            field=CONFIGURED_PATH,
            code=ErrorCode.MODEL_INACTIVE,
        )
    return llm


async def resolve_target(
    session: AsyncSession, state: AppState, conversation: Conversation, overrides: Overrides
) -> Target:
    """The checked model and parameters of an answer in ``conversation``."""
    agent = None
    if conversation.agent_id is not None:
        agent = await session.get(Agent, conversation.agent_id)
    workspace = await session.get_one(Workspace, conversation.workspace_id)
    if overrides.llm_id is not None:
        llm = await active_llm(session, overrides.llm_id, MODEL_PATH)
    else:
        llm = await _configured_llm(session, state, agent, workspace)
    try:
        provider = enabled_provider(state.providers, llm)
    except DomainError as error:
        if overrides.llm_id is None:
            error.path = list(CONFIGURED_PATH)
        raise
    sampling = _sampling(agent, overrides.sampling)
    params = generation_params(llm, sampling)
    if agent is not None and agent.parameters:
        # Refused when an agent is saved; rows written before that rule are filtered here.
        extra = {k: v for k, v in agent.parameters.items() if k not in RESERVED_PARAMETERS}
        params = replace(params, extra=extra)
    path = MODEL_PATH if overrides.llm_id is not None else CONFIGURED_PATH
    return Target(
        llm, provider, params, sampling, agent, workspace, list(path), conversation.project_id
    )


async def _fallback(
    session: AsyncSession, state: AppState, target: Target, user_id: uuid.UUID
) -> ModelChoice | None:
    """The usable fallback model, or None."""
    agent_choice = target.agent.fallback_llm_id if target.agent is not None else None
    llm_id = agent_choice or target.workspace.fallback_llm_id
    if llm_id is None or llm_id == target.llm.id:
        return None
    llm = await session.get(LLM, llm_id)
    provider = state.providers.get(llm.provider) if llm is not None else None
    if llm is None or not llm.is_active or provider is None:
        return None
    sampling = target.sampling
    if sampling.max_tokens is not None:
        sampling = replace(sampling, max_tokens=min(sampling.max_tokens, llm.max_output_tokens))
    try:
        params = generation_params(llm, sampling)
        # Free-form parameters are written for the main model's API; another provider's
        # fallback gets none of them.
        same_api = llm.provider == target.llm.provider
        params = replace(params, extra=target.params.extra if same_api else {})
        return await choose(session, state, llm, provider, params, (user_id, target.workspace.id))
    except DomainError:
        return None


async def _counted_prompt(
    session: AsyncSession,
    state: AppState,
    choice: ModelChoice,
    system_prompt: str | None,
    question_id: uuid.UUID | None,
) -> Prompt | None:
    """The prompt as the generation would build it; None when the question is unknown or
    does not fit (its call fails before any token, and the reservation is released)."""
    if question_id is None:
        return None
    try:
        limit = state.settings.history_max_messages
        return await prompt_for(
            session, question_id, choice.llm, choice.params, system_prompt, limit
        )
    except DomainError:
        return None


async def plan_call(
    session: AsyncSession,
    state: AppState,
    target: Target,
    user_id: uuid.UUID,
    question_id: uuid.UUID | None = None,
) -> CallPlan:
    """Keys and budget: API_KEY_MISSING (naming the variable to set), BUDGET_EXCEEDED when
    a hard-stop budget covering the answer has no room for its worst case."""
    payer = (user_id, target.workspace.id)
    primary = await choose(
        session, state, target.llm, target.provider, target.params, payer, target.path
    )
    system_prompt = target.agent.system_prompt if target.agent is not None else None
    fallback = await _fallback(session, state, target, user_id)
    plan = CallPlan(primary, fallback, system_prompt or None)
    counted: list[Prompt] = []  # the primary's, kept for the call (built once)

    async def prompt_tokens(choice: ModelChoice) -> int:
        """The prompt's tokens as the generation will count them; the most the model's
        window lets the prompt take when it cannot be built."""
        prompt = await _counted_prompt(session, state, choice, plan.system_prompt, question_id)
        if prompt is None:
            return window(choice.llm, choice.params)
        if choice is plan.primary:
            counted.append(prompt)
        return prompt.tokens

    coverage = Coverage(target.workspace.id, target.project_id, user_id, request_api_token())
    reservation_id = await reserve(session, coverage, plan.choices, prompt_tokens, CONFIGURED_PATH)
    return replace(plan, reservation_id=reservation_id, prompt=counted[0] if counted else None)


def is_request_error(error: DomainError) -> bool:
    """True when ``error`` concerns what the request gave (not the configured model)."""
    return bool(error.path and error.path[-1] in REQUEST_FIELDS)
