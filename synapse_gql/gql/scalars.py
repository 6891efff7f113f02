"""Scalar overrides: money and prices leave as plain decimal strings ("0", "12.5"),
never in exponent notation ("0E-10") that NUMERIC(20, 10) values would otherwise give."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from strawberry.schema.types.base_scalars import DecimalDefinition


def plain_decimal(value: Decimal) -> str:
    """``Decimal`` as a fixed-point string without trailing zeros."""
    normalized = value.normalize()
    return format(normalized, "f") if normalized != 0 else "0"


SCALAR_OVERRIDES = {
    Decimal: dataclasses.replace(
        DecimalDefinition,
        serialize=plain_decimal,
        description='A fixed-point decimal as a string, e.g. "0.000015" (money is never a float).',
    )
}
