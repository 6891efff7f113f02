"""The catalog a fresh install starts with: list prices in USD per million tokens.

gpt-4o, claude-3-opus and gemini-1.5-pro prices are the product documents' per-token
figures times one million; the others are the providers' public list prices.

Cache prices follow the providers' published prompt-caching rates as of 2025: Anthropic
charges 1.25x the input price to write the cache and 0.1x to read it (Claude 3 Haiku's
published figures are $0.30 and $0.03); OpenAI bills cached input of the gpt-4o family at
half the input price and charges nothing extra to write. Models without prompt caching
have no cache prices (cached tokens, should any be reported, are priced as input).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

MOCK_PROVIDER = "mock"
DEV_MODEL_ID = "synapse-dev"


@dataclass(frozen=True)
class CatalogEntry:
    provider: str
    model_id: str
    display_name: str
    input_price: Decimal
    output_price: Decimal
    context_window: int
    max_output_tokens: int
    vision: bool = False
    tools: bool = True
    cache_read_price: Decimal | None = None
    cache_write_price: Decimal | None = None


D = Decimal
SEED_CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry(
        "openai",
        "gpt-4o",
        "GPT-4o",
        D("5"),
        D("15"),
        128_000,
        16_384,
        vision=True,
        cache_read_price=D("2.5"),
    ),
    CatalogEntry(
        "openai",
        "gpt-4o-mini",
        "GPT-4o mini",
        D("0.15"),
        D("0.6"),
        128_000,
        16_384,
        vision=True,
        cache_read_price=D("0.075"),
    ),
    CatalogEntry(
        "openai", "gpt-4-turbo", "GPT-4 Turbo", D("10"), D("30"), 128_000, 4_096, vision=True
    ),
    CatalogEntry("openai", "gpt-3.5-turbo", "GPT-3.5 Turbo", D("0.5"), D("1.5"), 16_385, 4_096),
    CatalogEntry(
        "anthropic",
        "claude-3-opus-20240229",
        "Claude 3 Opus",
        D("15"),
        D("75"),
        200_000,
        4_096,
        vision=True,
        cache_read_price=D("1.5"),
        cache_write_price=D("18.75"),
    ),
    CatalogEntry(
        "anthropic",
        "claude-3-sonnet-20240229",
        "Claude 3 Sonnet",
        D("3"),
        D("15"),
        200_000,
        4_096,
        vision=True,
        cache_read_price=D("0.3"),
        cache_write_price=D("3.75"),
    ),
    CatalogEntry(
        "anthropic",
        "claude-3-haiku-20240307",
        "Claude 3 Haiku",
        D("0.25"),
        D("1.25"),
        200_000,
        4_096,
        vision=True,
        cache_read_price=D("0.03"),
        cache_write_price=D("0.3"),
    ),
    CatalogEntry(
        "google",
        "gemini-1.5-pro",
        "Gemini 1.5 Pro",
        D("3.5"),
        D("10.5"),
        2_097_152,
        8_192,
        vision=True,
    ),
    CatalogEntry(
        "google",
        "gemini-1.5-flash",
        "Gemini 1.5 Flash",
        D("0.075"),
        D("0.3"),
        1_048_576,
        8_192,
        vision=True,
    ),
    CatalogEntry("xai", "grok-2", "Grok 2", D("2"), D("10"), 131_072, 32_768),
    CatalogEntry(
        "deepseek", "deepseek-chat", "DeepSeek V3 Chat", D("0.27"), D("1.1"), 64_000, 8_192
    ),
    CatalogEntry(
        "meta",
        "llama-3.1-405b-instruct",
        "Llama 3.1 405B Instruct",
        D("3.5"),
        D("3.5"),
        128_000,
        4_096,
    ),
    CatalogEntry(
        MOCK_PROVIDER,
        DEV_MODEL_ID,
        "Synapse development model (free, offline)",
        D("0"),
        D("0"),
        32_768,
        4_096,
        tools=False,
    ),
)
