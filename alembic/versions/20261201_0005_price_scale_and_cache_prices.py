"""price scale and cache prices

Prices keep their scale (NUMERIC(20, 10) USD per million tokens); the service now refuses
a price with more decimal places instead of letting the column round it. This revision adds
cache-read and cache-write prices to the catalog and its price periods, and the cached token
counts and cache prices charged to the usage log. Existing usage rows keep their cost: they
get zero cached tokens and no cache prices, which is how they were charged.

Seeded models whose open price period still has the seed's input price get a new price
period carrying their cache prices, so calls made from now on pay them and history keeps
the period it was charged at.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 03:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(20, 10)
PRICE_COLUMNS = ("cache_read_price_per_million", "cache_write_price_per_million")
# (provider, model id, seed input price, cache read, cache write), frozen at this revision.
SEED_CACHE_PRICES = (
    ("openai", "gpt-4o", "5", "2.5", None),
    ("openai", "gpt-4o-mini", "0.15", "0.075", None),
    ("anthropic", "claude-3-opus-20240229", "15", "1.5", "18.75"),
    ("anthropic", "claude-3-sonnet-20240229", "3", "0.3", "3.75"),
    ("anthropic", "claude-3-haiku-20240307", "0.25", "0.03", "0.3"),
)

_REPRICE = sa.text(
    """
    WITH target AS (
        SELECT l.id FROM llms l
        JOIN llm_prices p ON p.llm_id = l.id AND p.valid_to IS NULL
        WHERE l.provider = :provider AND l.model_id = :model_id
          AND p.input_price_per_million = CAST(:input AS NUMERIC)
          AND p.cache_read_price_per_million IS NULL
          AND p.cache_write_price_per_million IS NULL
    ),
    closed AS (
        UPDATE llm_prices SET valid_to = now()
        WHERE llm_id IN (SELECT id FROM target) AND valid_to IS NULL
        RETURNING llm_id, input_price_per_million, output_price_per_million, currency
    ),
    opened AS (
        INSERT INTO llm_prices (
            id, llm_id, input_price_per_million, output_price_per_million,
            cache_read_price_per_million, cache_write_price_per_million,
            currency, valid_from
        )
        SELECT gen_random_uuid(), llm_id, input_price_per_million, output_price_per_million,
               CAST(:read AS NUMERIC), CAST(:write AS NUMERIC), currency, now()
        FROM closed
        RETURNING llm_id
    )
    UPDATE llms SET cache_read_price_per_million = CAST(:read AS NUMERIC),
                    cache_write_price_per_million = CAST(:write AS NUMERIC)
    WHERE id IN (SELECT llm_id FROM opened)
    """
)


def upgrade() -> None:
    for table in ("llms", "llm_prices", "usage_logs"):
        for column in PRICE_COLUMNS:
            op.add_column(table, sa.Column(column, MONEY, nullable=True))
    for column in ("cache_read_tokens", "cache_write_tokens"):
        op.add_column(
            "usage_logs", sa.Column(column, sa.Integer(), server_default="0", nullable=False)
        )
    op.create_check_constraint(
        op.f("ck_usage_logs_cache_tokens_non_negative"),
        "usage_logs",
        "cache_read_tokens >= 0 AND cache_write_tokens >= 0",
    )
    bind = op.get_bind()
    for provider, model_id, input_price, read, write in SEED_CACHE_PRICES:
        bind.execute(
            _REPRICE,
            {
                "provider": provider,
                "model_id": model_id,
                "input": input_price,
                "read": read,
                "write": write,
            },
        )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_usage_logs_cache_tokens_non_negative"), "usage_logs", type_="check")
    # Cached tokens were priced apart; folding them back into input keeps every row's
    # token total (its cost is kept as charged).
    op.execute(
        "UPDATE usage_logs SET input_tokens = input_tokens + cache_read_tokens"
        " + cache_write_tokens WHERE cache_read_tokens > 0 OR cache_write_tokens > 0"
    )
    for column in ("cache_write_tokens", "cache_read_tokens"):
        op.drop_column("usage_logs", column)
    for table in ("usage_logs", "llm_prices", "llms"):
        for column in reversed(PRICE_COLUMNS):
            op.drop_column(table, column)
