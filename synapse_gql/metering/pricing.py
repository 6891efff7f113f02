"""Catalog prices and the cost of a call, in exact decimal arithmetic."""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import LLMPrice

TOKENS_PER_PRICE_UNIT = Decimal(1_000_000)
# Money columns are NUMERIC(20, 10).
COST_QUANTUM = Decimal("0.0000000001")
# Tokens (up to 10 digits) times prices (up to 20 digits) need more than the default 28.
_PRECISION = 60


class PricePerMillion(Protocol):
    """Anything carrying the two per-million prices, e.g. an ``LLMPrice`` row."""

    input_price_per_million: Decimal
    output_price_per_million: Decimal


class MissingPrice(LookupError):
    """The LLM has no open price period: the catalog is inconsistent."""


async def current_price(session: AsyncSession, llm_id: uuid.UUID) -> LLMPrice:
    """The LLM's open price period (``valid_to`` null), the price a call made now pays."""
    stmt = (
        select(LLMPrice)
        .where(LLMPrice.llm_id == llm_id, LLMPrice.valid_to.is_(None))
        .order_by(LLMPrice.valid_from.desc())
        .limit(1)
    )
    price = await session.scalar(stmt)
    if price is None:
        raise MissingPrice(f"LLM {llm_id} has no current price.")
    return price


def cost(input_tokens: int, output_tokens: int, price: PricePerMillion) -> Decimal:
    """(in * input price + out * output price) / 1,000,000, rounded half up to 10 places."""
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("Token counts cannot be negative.")
    with localcontext(prec=_PRECISION):
        total = (
            Decimal(input_tokens) * _decimal(price.input_price_per_million)
            + Decimal(output_tokens) * _decimal(price.output_price_per_million)
        ) / TOKENS_PER_PRICE_UNIT
        return total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def _decimal(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"Prices must be Decimal, not {type(value).__name__}.")
    return value
