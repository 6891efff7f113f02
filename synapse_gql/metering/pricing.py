"""Catalog prices and the cost of a call, in exact decimal arithmetic."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal, localcontext
from functools import cache
from typing import Any, Protocol

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.models import LLMPrice

TOKENS_PER_PRICE_UNIT = Decimal(1_000_000)
# Money columns are NUMERIC(20, 10).
COST_QUANTUM = Decimal("0.0000000001")
# Tokens (up to 10 digits) times prices (up to 20 digits) need more than the default 28.
_PRECISION = 60


class PricePerMillion(Protocol):
    """Anything carrying the per-million prices, e.g. an ``LLMPrice`` row. Its cache prices
    (``cache_read_price_per_million``, ``cache_write_price_per_million``) are optional: a
    missing or null one means cached tokens pay the input price."""

    @property
    def input_price_per_million(self) -> Decimal: ...

    @property
    def output_price_per_million(self) -> Decimal: ...


@dataclass(frozen=True)
class PricePeriod:
    """The part of a price period that never changes once written (only its end,
    ``valid_to``, is set later; each field is the column of the same name): a call
    carries it from its send to its metering, so the period it pays is not read again."""

    id: uuid.UUID
    llm_id: uuid.UUID
    input_price_per_million: Decimal
    output_price_per_million: Decimal
    cache_read_price_per_million: Decimal | None
    cache_write_price_per_million: Decimal | None
    currency: str

    @classmethod
    def of(cls, row: LLMPrice) -> PricePeriod:
        """The period of a loaded ``LLMPrice`` row."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


class MissingPrice(LookupError):
    """The LLM has no open price period: the catalog is inconsistent."""


@cache
def _current_price() -> Any:
    """The open price period of ``:llm_id``, built once."""
    return (
        select(LLMPrice)
        .where(LLMPrice.llm_id == bindparam("llm_id"), LLMPrice.valid_to.is_(None))
        .order_by(LLMPrice.valid_from.desc())
        .limit(1)
    )


async def current_price(session: AsyncSession, llm_id: uuid.UUID) -> LLMPrice:
    """The LLM's open price period (``valid_to`` null), the price a call made now pays."""
    price = await session.scalar(_current_price(), {"llm_id": llm_id})
    if price is None:
        raise MissingPrice(f"LLM {llm_id} has no current price.")
    return price


async def price_for_call(
    session: AsyncSession,
    llm_id: uuid.UUID,
    price_id: uuid.UUID | None,
    known: PricePeriod | None = None,
) -> PricePeriod | LLMPrice:
    """The price period a call pays: the one in force when it was sent (``price_id``,
    taken when the call started; ``known`` when the call carries it), else the current
    one for calls that did not keep it."""
    if known is not None and known.id == price_id and known.llm_id == llm_id:
        return known
    if price_id is not None:
        price = await session.get(LLMPrice, price_id)
        if price is not None and price.llm_id == llm_id:
            return price
    return await current_price(session, llm_id)


def cost(
    input_tokens: int,
    output_tokens: int,
    price: PricePerMillion,
    *,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> Decimal:
    """Each kind of token times its price, summed, / 1,000,000, rounded half up to 10 places.

    ``input_tokens`` is the uncached input; cached tokens pay the period's cache price, or
    the input price when it has none.
    """
    if min(input_tokens, output_tokens, cache_read_tokens, cache_write_tokens) < 0:
        raise ValueError("Token counts cannot be negative.")
    input_price = _decimal(price.input_price_per_million)
    read_price = _cache_price(price, "cache_read_price_per_million", input_price)
    write_price = _cache_price(price, "cache_write_price_per_million", input_price)
    with localcontext(prec=_PRECISION):
        total = (
            Decimal(input_tokens) * input_price
            + Decimal(output_tokens) * _decimal(price.output_price_per_million)
            + Decimal(cache_read_tokens) * read_price
            + Decimal(cache_write_tokens) * write_price
        ) / TOKENS_PER_PRICE_UNIT
        return total.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def _cache_price(price: PricePerMillion, name: str, input_price: Decimal) -> Decimal:
    value = getattr(price, name, None)
    return input_price if value is None else _decimal(value)


def _decimal(value: Decimal) -> Decimal:
    if not isinstance(value, Decimal):
        raise TypeError(f"Prices must be Decimal, not {type(value).__name__}.")
    return value
