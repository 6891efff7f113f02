"""Declarative base, naming conventions and the column helpers every model shares."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from sqlalchemy import DateTime, Enum, MetaData, Numeric, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Money: 18 digits with 10 after the point covers per-token prices and large invoices.
MONEY_SCALE = 10
Money = Numeric(20, MONEY_SCALE)
uuid_pk = Annotated[uuid.UUID, mapped_column(primary_key=True, default=uuid.uuid4)]
timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]
created_ts = Annotated[
    datetime,
    mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False),
]
updated_ts = Annotated[
    datetime,
    mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now(), nullable=False
    ),
]
money = Annotated[Decimal, mapped_column(Money, nullable=False, default=Decimal(0))]
json_object = Annotated[dict[str, Any], mapped_column(JSONB, nullable=False, default=dict)]


class Base(DeclarativeBase):
    """Base of every ORM model; its metadata is Alembic's target."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Fetch server-generated values (updated_at) with the UPDATE's RETURNING, so a row
    # can be read after its session closed without a lazy reload.
    __mapper_args__ = {"eager_defaults": True}


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A VARCHAR column with a CHECK constraint for a Python enum (values, not names).

    Check constraints instead of native PostgreSQL enums keep migrations that add a
    value to a one-line constraint change.
    """
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def short_text(length: int = 200) -> String:
    """A bounded VARCHAR for names and titles."""
    return String(length)
