"""The one-shot generation flow.

1. In one transaction: the caller must be a member (or above) of the workspace, the model
   active and its provider enabled, the input valid, an API key found for the provider,
   and the worst case reserved on every budget covering the call (else BUDGET_EXCEEDED).
2. With no transaction open: the call, streamed through ``stream_with_retries``.
3. In a transaction of its own: ``record_call``, for failed and cancelled calls too, so the
   usage of a call that fails is committed although the mutation answers with an error.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.agents.service import active_llm
from synapse_gql.budgets.caller import request_api_token
from synapse_gql.budgets.repository import Coverage
from synapse_gql.budgets.reservations import reserve, settle, worst_case
from synapse_gql.errors import DomainError, ErrorCode
from synapse_gql.generation.calls import CANCELLED, CallOutcome, CallRun
from synapse_gql.generation.failures import (
    MODEL_PATH,
    logged_message,
    provider_failure,
    usage_status,
)
from synapse_gql.generation.keys import ResolvedKey, key_variable, resolve_key
from synapse_gql.generation.prompts import Sampling, chat, generation_params, recorded_parameters
from synapse_gql.generation.providers import llm_timeouts
from synapse_gql.llm import MOCK_PROVIDER, ChatMessage, GenerationParams, Provider, count_tokens
from synapse_gql.metering import (
    CallRecord,
    RecordResult,
    current_price,
    record_call,
)
from synapse_gql.models import LLM, MemberRole
from synapse_gql.state import AppState
from synapse_gql.usage.live import announce_usage
from synapse_gql.workspaces.access import require_role


@dataclass(frozen=True, kw_only=True)
class GenerateRequest:
    """What the caller asked for; exactly one of ``prompt`` and ``messages``."""

    workspace_id: uuid.UUID
    llm_id: uuid.UUID
    prompt: str | None = None
    messages: Sequence[ChatMessage] | None = None
    system_prompt: str | None = None
    sampling: Sampling = field(default_factory=Sampling)


@dataclass(frozen=True)
class PreparedCall:
    """A checked call, ready to be made."""

    llm_id: uuid.UUID
    provider_name: str
    provider: Provider
    messages: list[ChatMessage]
    params: GenerationParams
    key: ResolvedKey
    parameters: dict[str, Any]
    # The price period in force when the call was checked: the call pays it.
    price_id: uuid.UUID | None = None
    # The budget reservation of the call's worst case, released when it is metered.
    reservation_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Generation:
    """A successful call: its outcome, the usage log that meters it and its cost."""

    outcome: CallOutcome
    usage_log_id: uuid.UUID
    cost: Decimal


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


async def _reserve(
    session: AsyncSession,
    request: GenerateRequest,
    user_id: uuid.UUID,
    llm: LLM,
    messages: list[ChatMessage],
    params: GenerationParams,
) -> uuid.UUID | None:
    """Budgets: reserve the worst case (the prompt counted, the whole answer allowed) on
    every budget covering the call, or BUDGET_EXCEEDED."""

    async def worst() -> Decimal:
        input_tokens, _ = count_tokens(llm.model_id, llm.provider, messages)
        output_tokens = params.max_tokens or llm.max_output_tokens
        return await worst_case(session, llm.id, input_tokens, output_tokens)

    coverage = Coverage(request.workspace_id, None, user_id, request_api_token())
    return await reserve(session, coverage, worst, ["input", "workspaceId"])


async def prepare(
    session: AsyncSession, state: AppState, user_id: uuid.UUID, request: GenerateRequest
) -> PreparedCall:
    """Check everything a call needs, cheapest and most private first."""
    await require_role(session, request.workspace_id, user_id, MemberRole.MEMBER)
    llm = await active_llm(session, request.llm_id, MODEL_PATH)
    provider = enabled_provider(state.providers, llm)
    messages = chat(request.prompt, request.messages, request.system_prompt)
    params = generation_params(llm, request.sampling)
    key = await resolve_key(
        session, state.keyring, state.settings, user_id, request.workspace_id, llm.provider
    )
    has_system = any(m.role == "system" for m in messages)
    price = await current_price(session, llm.id)
    reservation_id = await _reserve(session, request, user_id, llm, messages, params)
    return PreparedCall(
        llm.id,
        llm.provider,
        provider,
        messages,
        params,
        key,
        recorded_parameters(params, has_system),
        price.id,
        reservation_id,
    )


async def record(
    state: AppState,
    call: PreparedCall,
    user_id: uuid.UUID,
    workspace_id: uuid.UUID,
    outcome: CallOutcome,
) -> RecordResult:
    """Meter the call in a transaction of its own (committed when this returns)."""
    error = outcome.error
    entry = CallRecord(
        workspace_id=workspace_id,
        user_id=user_id,
        llm_id=call.llm_id,
        provider=call.provider_name,
        model_id=call.params.model,
        api_key_source=call.key.source,
        input_tokens=outcome.usage.input_tokens,
        output_tokens=outcome.usage.output_tokens,
        cache_read_tokens=outcome.usage.cache_read_tokens,
        cache_write_tokens=outcome.usage.cache_write_tokens,
        llm_price_id=call.price_id,
        tokens_estimated=outcome.usage.estimated,
        latency_ms=outcome.latency_ms,
        time_to_first_token_ms=outcome.time_to_first_token_ms,
        status=usage_status(error),
        error_code=None if error is None else error.code.value,
        error_message=logged_message(error),
        parameters=call.parameters,
        finish_reason=outcome.finish_reason,
    )
    async with state.db.transaction() as session:
        recorded = await record_call(session, entry)
        await settle(session, call.reservation_id)
    await announce_usage(state, workspace_id, [recorded.usage_log.id])
    return recorded


async def generate(state: AppState, user_id: uuid.UUID, request: GenerateRequest) -> Generation:
    """Check, call and meter; a failed call is metered, then raised as a typed error."""
    async with state.db.transaction() as session:
        call = await prepare(session, state, user_id, request)
    run = CallRun(
        call.provider,
        call.messages,
        call.params,
        call.key.value,
        attempts=state.settings.llm_retry_attempts,
        timeouts=llm_timeouts(state.settings),
    )
    try:
        outcome = await run.execute()
    except asyncio.CancelledError:
        cancelled = run.failed(CANCELLED)
        await asyncio.shield(record(state, call, user_id, request.workspace_id, cancelled))
        raise
    recorded = await record(state, call, user_id, request.workspace_id, outcome)
    if outcome.error is not None:
        variable = key_variable(call.provider_name)
        raise provider_failure(outcome.error, call.provider_name, call.key.source, variable)
    return Generation(outcome, recorded.usage_log.id, recorded.cost)
