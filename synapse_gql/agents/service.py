"""Agent rules: members and above create and edit, viewers only read.

An agent's model and limits are checked against the catalog on every write that
touches them: the model must exist and be active, ``max_tokens`` within its output limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.errors import DomainError, ErrorCode, InvalidInput, NotFound
from synapse_gql.gql import validation
from synapse_gql.llm import RESERVED_PARAMETERS
from synapse_gql.models import LLM, Agent, AgentStatus, MemberRole, Project
from synapse_gql.workspaces.access import require_role

MAX_SYSTEM_PROMPT = 32_000
MAX_DESCRIPTION = 5_000
CENT = Decimal("0.01")

# Model attribute -> the camelCase input field reported in error paths.
FIELDS = {
    "name": "name",
    "description": "description",
    "system_prompt": "systemPrompt",
    "llm_id": "llmId",
    "fallback_llm_id": "fallbackLlmId",
    "temperature": "temperature",
    "max_tokens": "maxTokens",
    "top_p": "topP",
    "parameters": "parameters",
    "project_id": "projectId",
}


def _path(key: str) -> list[str]:
    return ["input", FIELDS[key]]


async def active_llm(session: AsyncSession, llm_id: uuid.UUID, field: Sequence[str]) -> LLM:
    """The catalog model ``llm_id``: NOT_FOUND when missing, MODEL_INACTIVE when retired."""
    llm = await session.get(LLM, llm_id)
    if llm is None:
        raise NotFound("No such model in the catalog.", field=field)
    if not llm.is_active:
        message = f"The model {llm.display_name} is not active."
        raise DomainError(message, field=field, code=ErrorCode.MODEL_INACTIVE)
    return llm


async def project_in(
    session: AsyncSession, workspace_id: uuid.UUID, project_id: uuid.UUID, field: Sequence[str]
) -> uuid.UUID:
    """``project_id`` when that project belongs to ``workspace_id``, else NOT_FOUND."""
    found = await session.scalar(select(Project.workspace_id).where(Project.id == project_id))
    if found != workspace_id:
        raise NotFound("No such project in this workspace.", field=field)
    return project_id


def _bounded(value: Any, field: list[str], low: Decimal, high: Decimal, open_low: bool) -> Decimal:
    """``value`` rounded to hundredths and within ``low``..``high``."""
    number = Decimal(str(value))
    if not number.is_finite():
        raise InvalidInput("Must be a finite number.", field=field)
    number = number.quantize(CENT, rounding=ROUND_HALF_UP)
    too_low = number <= low if open_low else number < low
    if too_low or number > high:
        opener = "above" if open_low else "at least"
        raise InvalidInput(f"Must be {opener} {low} and at most {high}.", field=field)
    return number


def _optional(check: Callable[[Any, list[str]], Any]) -> Callable[[Any, list[str]], Any]:
    return lambda value, field: None if value is None else check(value, field)


def _max_tokens(value: int, field: list[str]) -> int:
    if value < 1:
        raise InvalidInput("Must be at least 1.", field=field)
    return value


def _system_prompt(value: str, field: list[str]) -> str:
    if len(value) > MAX_SYSTEM_PROMPT:
        raise InvalidInput(f"Limited to {MAX_SYSTEM_PROMPT} characters.", field=field)
    return value


def _parameters(value: Any, field: list[str]) -> dict[str, Any]:
    """A JSON object of extra provider parameters, none of which the server sets itself."""
    parameters = validation.json_object(value, field)
    reserved = sorted(RESERVED_PARAMETERS & parameters.keys())
    if reserved:
        raise InvalidInput(
            f"Set by the server, not in parameters: {', '.join(reserved)} (use the agent's"
            " model, temperature, maxTokens and topP).",
            field=field,
        )
    return parameters


CHECKS: dict[str, Callable[[Any, list[str]], Any]] = {
    "name": lambda v, f: validation.text(v, f),
    "description": lambda v, f: validation.text(v, f, min_len=0, max_len=MAX_DESCRIPTION),
    "system_prompt": _system_prompt,
    "temperature": _optional(lambda v, f: _bounded(v, f, Decimal(0), Decimal(2), False)),
    "top_p": _optional(lambda v, f: _bounded(v, f, Decimal(0), Decimal(1), True)),
    "max_tokens": _optional(_max_tokens),
    "parameters": lambda v, f: _parameters(v, f),
}


async def _check(session: AsyncSession, agent: Agent, key: str, value: Any) -> Any:
    if key in CHECKS:
        return CHECKS[key](value, _path(key))
    if value is None:
        return None
    if key == "project_id":
        return await project_in(session, agent.workspace_id, value, _path(key))
    # What remains are the catalog references: llm_id and fallback_llm_id.
    return (await active_llm(session, value, _path(key))).id


async def _apply(session: AsyncSession, agent: Agent, values: dict[str, Any]) -> None:
    """Validate and set ``values``, then check ``max_tokens`` against the model."""
    for key, value in values.items():
        setattr(agent, key, await _check(session, agent, key, value))
    if agent.max_tokens is not None and {"llm_id", "max_tokens"} & values.keys():
        llm = await session.get(LLM, agent.llm_id)
        limit = llm.max_output_tokens if llm is not None else 0
        if agent.max_tokens > limit:
            raise InvalidInput(
                f"This model writes at most {limit} tokens per answer.", field=_path("max_tokens")
            )


async def create_agent(
    session: AsyncSession, actor_id: uuid.UUID, workspace_id: uuid.UUID, values: dict[str, Any]
) -> Agent:
    """A new active agent in ``workspace_id`` (members and above).

    ``values`` maps model attributes (``name``, ``llm_id``, ``temperature`` ...) to the
    decoded input; ``name`` and ``llm_id`` are required.
    """
    await require_role(session, workspace_id, actor_id, MemberRole.MEMBER)
    agent = Agent(
        workspace_id=workspace_id,
        created_by_id=actor_id,
        status=AgentStatus.ACTIVE,
        description="",
        system_prompt="",
        parameters={},
    )
    await _apply(session, agent, values)
    session.add(agent)
    await session.flush()
    return agent


async def _editable(
    session: AsyncSession, actor_id: uuid.UUID, agent_id: uuid.UUID, field: Sequence[str]
) -> Agent:
    agent = await session.get(Agent, agent_id, with_for_update=True)
    if agent is None:
        raise NotFound("No such agent.", field=field)
    await require_role(
        session, agent.workspace_id, actor_id, MemberRole.MEMBER, field=field, what="agent"
    )
    return agent


async def update_agent(
    session: AsyncSession, actor_id: uuid.UUID, agent_id: uuid.UUID, values: dict[str, Any]
) -> Agent:
    """Change an agent's settings; only the attributes present in ``values`` change."""
    agent = await _editable(session, actor_id, agent_id, ("input", "id"))
    await _apply(session, agent, values)
    await session.flush()
    return agent


async def set_status(
    session: AsyncSession, actor_id: uuid.UUID, agent_id: uuid.UUID, status: AgentStatus
) -> Agent:
    """Archive or restore an agent."""
    agent = await _editable(session, actor_id, agent_id, ("id",))
    agent.status = status
    await session.flush()
    return agent
