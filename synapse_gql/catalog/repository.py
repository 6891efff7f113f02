"""SQL for the catalog."""

from __future__ import annotations

import uuid

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import LLM, LLMPrice


def llms(provider: str | None, active: bool | None) -> Select[LLM]:
    stmt = select(LLM)
    if provider is not None:
        stmt = stmt.where(LLM.provider == provider)
    if active is not None:
        stmt = stmt.where(LLM.is_active.is_(active))
    return stmt


async def by_model(session: AsyncSession, provider: str, model_id: str) -> LLM | None:
    return await session.scalar(
        select(LLM).where(LLM.provider == provider, LLM.model_id == model_id)
    )


async def close_current_price(session: AsyncSession, llm_id: uuid.UUID) -> None:
    await session.execute(
        update(LLMPrice)
        .where(LLMPrice.llm_id == llm_id, LLMPrice.valid_to.is_(None))
        .values(valid_to=func.now())
    )


async def current_price(session: AsyncSession, llm_id: uuid.UUID) -> LLMPrice | None:
    stmt = select(LLMPrice).where(LLMPrice.llm_id == llm_id, LLMPrice.valid_to.is_(None))
    return await session.scalar(stmt)
