"""The LLM catalog and its price history."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from synapse_gql.models.base import (
    MONEY_SCALE,
    Base,
    Money,
    created_ts,
    timestamp,
    updated_ts,
    uuid_pk,
)

# Decimal places of every price column (``Money`` is NUMERIC(20, 10)): a price per million
# tokens down to 1e-10 USD, i.e. 1e-16 USD per token.
PRICE_SCALE = MONEY_SCALE


class LLM(Base):
    """A model a provider serves, with its current list price per million tokens.

    Prices are USD per million tokens with at most ``PRICE_SCALE`` decimal places (the
    scale of ``Money``); a price needing more places is refused, never rounded.
    """

    __tablename__ = "llms"
    __table_args__ = (UniqueConstraint("provider", "model_id"),)
    # Read ``updated_at`` back with RETURNING: the row is used after its session closes.

    id: Mapped[uuid_pk]
    provider: Mapped[str] = mapped_column(String(50))
    model_id: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200))
    input_price_per_million: Mapped[Decimal] = mapped_column(Money)
    output_price_per_million: Mapped[Decimal] = mapped_column(Money)
    # Null: the model has no cache pricing, and cached tokens are priced as input.
    cache_read_price_per_million: Mapped[Decimal | None] = mapped_column(Money)
    cache_write_price_per_million: Mapped[Decimal | None] = mapped_column(Money)
    context_window: Mapped[int] = mapped_column(Integer)
    max_output_tokens: Mapped[int] = mapped_column(Integer)
    supports_streaming: Mapped[bool] = mapped_column(Boolean, default=True)
    supports_vision: Mapped[bool] = mapped_column(Boolean, default=False)
    supports_tools: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[created_ts]
    updated_at: Mapped[updated_ts]


class LLMPrice(Base):
    """One period of an LLM's price; the open period (``valid_to`` null) is current.

    Usage rows point at the price row they were charged at, so a later price change
    never rewrites history.
    """

    __tablename__ = "llm_prices"
    __table_args__ = (Index(None, "llm_id", "valid_from"),)

    id: Mapped[uuid_pk]
    llm_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("llms.id", ondelete="CASCADE"))
    input_price_per_million: Mapped[Decimal] = mapped_column(Money)
    output_price_per_million: Mapped[Decimal] = mapped_column(Money)
    cache_read_price_per_million: Mapped[Decimal | None] = mapped_column(Money)
    cache_write_price_per_million: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    valid_from: Mapped[created_ts]
    valid_to: Mapped[timestamp | None]
