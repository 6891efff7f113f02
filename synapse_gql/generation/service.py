"""The one-shot generation flow.

1. In one transaction: the caller must be a member (or above) of the workspace, the model
   active and its provider enabled, the input valid, an API key found for the provider,
   and the worst case reserved on every budget covering the call (else BUDGET_EXCEEDED).
2. With no transaction open: the call, streamed through ``stream_with_retries``.
3. In a transaction of its own: the call is metered and its reservation settled, failed
   and cancelled calls too, so the usage of a call that fails is committed although the
   mutation answers with an error; then it is announced.

Every step is the call pipeline's (:mod:`synapse_gql.pipeline`), shared with chat answers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.agents.service import active_llm
from synapse_gql.budgets.caller import request_api_token
from synapse_gql.budgets.repository import Coverage
from synapse_gql.generation.calls import CANCELLED, CallOutcome
from synapse_gql.generation.failures import MODEL_PATH
from synapse_gql.generation.prompts import Sampling, chat, generation_params
from synapse_gql.llm import ChatMessage, count_tokens
from synapse_gql.metering import RecordResult
from synapse_gql.models import MemberRole
from synapse_gql.pipeline import (
    CallPlan,
    CallScope,
    ModelChoice,
    announce,
    call_record,
    choose,
    failure,
    meter_and_settle,
    reserve,
    start_call,
)
from synapse_gql.pipeline.plan import enabled_provider
from synapse_gql.state import AppState
from synapse_gql.workspaces.access import require_role

BUDGET_PATH = ["input", "workspaceId"]


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
    """A checked call, ready to be made: its plan, messages and who pays."""

    plan: CallPlan
    messages: list[ChatMessage]
    scope: CallScope

    @property
    def has_system_prompt(self) -> bool:
        """Whether the messages start with a system prompt (kept on the usage log)."""
        return any(m.role == "system" for m in self.messages)


@dataclass(frozen=True)
class Generation:
    """A successful call: its outcome, the usage log that meters it and its cost."""

    outcome: CallOutcome
    usage_log_id: uuid.UUID
    cost: Decimal


async def prepare(
    session: AsyncSession, state: AppState, user_id: uuid.UUID, request: GenerateRequest
) -> PreparedCall:
    """Check everything a call needs, cheapest and most private first; reserve the worst
    case (the prompt counted, the whole answer allowed) or BUDGET_EXCEEDED."""
    await require_role(session, request.workspace_id, user_id, MemberRole.MEMBER)
    llm = await active_llm(session, request.llm_id, MODEL_PATH)
    provider = enabled_provider(state.providers, llm)
    messages = chat(request.prompt, request.messages, request.system_prompt)
    params = generation_params(llm, request.sampling)
    choice = await choose(session, state, llm, provider, params, (user_id, request.workspace_id))

    async def prompt_tokens(choice: ModelChoice) -> int:
        return count_tokens(choice.llm.model_id, choice.llm.provider, messages)[0]

    coverage = Coverage(request.workspace_id, None, user_id, request_api_token())
    reservation_id = await reserve(session, coverage, [choice], prompt_tokens, BUDGET_PATH)
    scope = CallScope(workspace_id=request.workspace_id, user_id=user_id)
    return PreparedCall(CallPlan(choice, reservation_id=reservation_id), messages, scope)


async def record(state: AppState, call: PreparedCall, outcome: CallOutcome) -> RecordResult:
    """Meter the call in a transaction of its own (committed and announced on return)."""
    entry = call_record(call.scope, call.plan.primary, outcome, call.has_system_prompt)
    async with state.db.transaction() as session:
        [recorded] = await meter_and_settle(state, session, [entry], call.plan.reservation_id)
    await announce(state, session)
    return recorded


async def generate(state: AppState, user_id: uuid.UUID, request: GenerateRequest) -> Generation:
    """Check, call and meter; a failed call is metered, then raised as a typed error."""
    async with state.db.transaction() as session:
        call = await prepare(session, state, user_id, request)
    run = start_call(state, call.plan.primary, call.messages)
    try:
        outcome = await run.execute()
    except asyncio.CancelledError:
        await asyncio.shield(record(state, call, run.failed(CANCELLED)))
        raise
    recorded = await record(state, call, outcome)
    if outcome.error is not None:
        raise failure(call.plan.primary, outcome.error)
    return Generation(outcome, recorded.usage_log.id, recorded.cost)
