"""Catalog administration and seeding. A price change closes the current price period
and opens a new one, so usage already charged keeps the price it was charged at."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from synapse_gql.catalog import repository
from synapse_gql.catalog.seed_data import SEED_CATALOG, CatalogEntry
from synapse_gql.errors import Conflict, InvalidInput, NotFound
from synapse_gql.gql import validation
from synapse_gql.models import LLM, LLMPrice
from synapse_gql.models.catalog import PRICE_SCALE

MAX_PRICE = Decimal("100000")
PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_SCALE)
# (column, GraphQL field) of every price; the cache prices may be null.
PRICES = (
    ("input_price_per_million", "inputPricePerMillion"),
    ("output_price_per_million", "outputPricePerMillion"),
)
CACHE_PRICES = (
    ("cache_read_price_per_million", "cacheReadPricePerMillion"),
    ("cache_write_price_per_million", "cacheWritePricePerMillion"),
)


def _price(value: Decimal, field: str) -> Decimal:
    """A price the column stores exactly: finite, 0..MAX_PRICE, at most PRICE_SCALE places.

    A price with more places is refused rather than rounded, since rounding a tiny price
    to zero would silently make the model free.
    """
    path = ["input", field]
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput("A price must be a finite decimal number.", field=path)
    if value < 0 or value > MAX_PRICE:
        raise InvalidInput(f"A price per million tokens is between 0 and {MAX_PRICE}.", field=path)
    if value != value.quantize(PRICE_QUANTUM):
        raise InvalidInput(
            f"A price per million tokens has at most {PRICE_SCALE} decimal places.", field=path
        )
    return value


def _cache_price(value: Decimal | None, field: str) -> Decimal | None:
    return None if value is None else _price(value, field)


def _positive(value: int, field: str, maximum: int = 100_000_000) -> int:
    if not 0 < value <= maximum:
        raise InvalidInput(f"Must be between 1 and {maximum}.", field=["input", field])
    return value


async def _open_price(session: AsyncSession, llm: LLM) -> None:
    await repository.close_current_price(session, llm.id)
    session.add(
        LLMPrice(
            llm_id=llm.id,
            input_price_per_million=llm.input_price_per_million,
            output_price_per_million=llm.output_price_per_million,
            cache_read_price_per_million=llm.cache_read_price_per_million,
            cache_write_price_per_million=llm.cache_write_price_per_million,
        )
    )


async def _stored(session: AsyncSession, llm: LLM) -> LLM:
    """``llm`` as the database holds it, so callers see the prices exactly as stored."""
    await session.flush()
    await session.refresh(llm)
    return llm


async def add_llm(session: AsyncSession, values: dict[str, Any]) -> LLM:
    """Add a model to the catalog with its first price period."""
    provider = validation.text(values["provider"], ["input", "provider"], max_len=50).lower()
    model_id = validation.text(values["model_id"], ["input", "modelId"])
    if await repository.by_model(session, provider, model_id) is not None:
        raise Conflict(
            "This provider already has a model with this id.", field=["input", "modelId"]
        )
    llm = LLM(
        provider=provider,
        model_id=model_id,
        display_name=validation.text(values["display_name"], ["input", "displayName"]),
        **{key: _price(values[key], field) for key, field in PRICES},
        **{key: _cache_price(values.get(key), field) for key, field in CACHE_PRICES},
        context_window=_positive(values["context_window"], "contextWindow"),
        max_output_tokens=_positive(values["max_output_tokens"], "maxOutputTokens"),
        supports_streaming=values.get("supports_streaming", True),
        supports_vision=values.get("supports_vision", False),
        supports_tools=values.get("supports_tools", False),
        is_active=True,
    )
    _check_output_fits(llm)
    session.add(llm)
    await session.flush()
    await _open_price(session, llm)
    return await _stored(session, llm)


def _check_output_fits(llm: LLM) -> None:
    if llm.max_output_tokens > llm.context_window:
        raise InvalidInput(
            "maxOutputTokens cannot exceed contextWindow.", field=["input", "maxOutputTokens"]
        )


async def update_llm(session: AsyncSession, llm_id: uuid.UUID, changes: dict[str, Any]) -> LLM:
    """Change a model; a new price opens a new price period."""
    llm = await session.get(LLM, llm_id, with_for_update=True)
    if llm is None:
        raise NotFound("No such model.", field=["input", "id"])
    if "display_name" in changes:
        llm.display_name = validation.text(changes["display_name"], ["input", "displayName"])
    for key, field in (
        ("context_window", "contextWindow"),
        ("max_output_tokens", "maxOutputTokens"),
    ):
        if key in changes:
            setattr(llm, key, _positive(changes[key], field))
    for key in ("supports_streaming", "supports_vision", "supports_tools", "is_active"):
        if key in changes:
            setattr(llm, key, changes[key])
    _check_output_fits(llm)
    if _reprice(llm, changes):
        await _open_price(session, llm)
    return await _stored(session, llm)


def _reprice(llm: LLM, changes: dict[str, Any]) -> bool:
    """Apply the price changes; True when a price differs from the current one.

    A cache price given as null removes it (cached tokens are then priced as input).
    """
    checked: dict[str, Decimal | None] = {
        key: _price(changes[key], field) for key, field in PRICES if key in changes
    }
    for key, field in CACHE_PRICES:
        if key in changes:
            checked[key] = _cache_price(changes[key], field)
    repriced = False
    for key, value in checked.items():
        if value != getattr(llm, key):
            setattr(llm, key, value)
            repriced = True
    return repriced


async def seed_catalog(
    session: AsyncSession, entries: tuple[CatalogEntry, ...] = SEED_CATALOG
) -> int:
    """Insert the seed models that are missing; existing ones are left as they are."""
    added = 0
    for entry in entries:
        if await repository.by_model(session, entry.provider, entry.model_id) is not None:
            continue
        await add_llm(
            session,
            {
                "provider": entry.provider,
                "model_id": entry.model_id,
                "display_name": entry.display_name,
                "input_price_per_million": entry.input_price,
                "output_price_per_million": entry.output_price,
                "cache_read_price_per_million": entry.cache_read_price,
                "cache_write_price_per_million": entry.cache_write_price,
                "context_window": entry.context_window,
                "max_output_tokens": entry.max_output_tokens,
                "supports_vision": entry.vision,
                "supports_tools": entry.tools,
            },
        )
        added += 1
    return added
