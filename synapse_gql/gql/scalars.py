"""Scalar overrides: money and prices leave as plain decimal strings ("0", "12.5"),
never in exponent notation ("0E-10") that NUMERIC(20, 10) values would otherwise give;
decimals arriving are finite and of a sane size ("NaN", "Infinity", "1e999" are refused
here rather than failing later in arithmetic or in the database)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal, DecimalException
from typing import NewType

from graphql import (
    GraphQLDefaultInput,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    Undefined,
    ast_from_value,
    value_to_literal,
)
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateTimeDefinition, DecimalDefinition
from strawberry.types.scalar import ScalarDefinition

# Far beyond any price, budget or model parameter, far below what slows arithmetic down.
MAX_DECIMAL_DIGITS = 40
MAX_DECIMAL_EXPONENT = 30


def plain_decimal(value: Decimal) -> str:
    """``Decimal`` as a fixed-point string without trailing zeros."""
    normalized = value.normalize()
    return format(normalized, "f") if normalized != 0 else "0"


def parse_decimal(value: object) -> Decimal:
    """A finite ``Decimal`` from a string or a number, of at most ``MAX_DECIMAL_DIGITS``
    digits and a magnitude within 10^-30 .. 10^30; anything else is a coercion error."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise StrawberryInputCoercionError("A Decimal is a string or a number.")
    text = str(value).strip()
    if len(text) > 2 * MAX_DECIMAL_DIGITS:
        raise StrawberryInputCoercionError(f"A Decimal has at most {MAX_DECIMAL_DIGITS} digits.")
    try:
        number = Decimal(text)
    except DecimalException:
        raise StrawberryInputCoercionError(
            'Not a decimal number (expected e.g. "0.7" or "12.5").'
        ) from None
    return _sane(number)


def _sane(number: Decimal) -> Decimal:
    if not number.is_finite():
        raise StrawberryInputCoercionError("A Decimal must be finite (no NaN or Infinity).")
    if len(number.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        raise StrawberryInputCoercionError(f"A Decimal has at most {MAX_DECIMAL_DIGITS} digits.")
    if number and abs(number.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise StrawberryInputCoercionError(
            f"A Decimal's magnitude must lie between 1e-{MAX_DECIMAL_EXPONENT}"
            f" and 1e{MAX_DECIMAL_EXPONENT}."
        )
    return number


def parse_datetime(value: object) -> datetime:
    """An ISO 8601 date-time whose instant lies within years 1 to 9999 in UTC (the driver
    converts to UTC: "0001-01-01T00:00:00+14:00" or "9999-12-31T23:59:59-14:00" would
    overflow there)."""
    parse_iso = DateTimeDefinition.parse_value
    assert parse_iso is not None
    parsed = parse_iso(value)
    assert isinstance(parsed, datetime)
    if parsed.tzinfo is not None:
        try:
            parsed.astimezone(UTC)
        except OverflowError:
            raise StrawberryInputCoercionError(
                "A DateTime must lie between years 1 and 9999 in UTC."
            ) from None
    return parsed


# Sums (tokens, calls) that outgrow GraphQL's 32-bit Int: a month of a team's tokens does.
BigInt = NewType("BigInt", int)

SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    BigInt: ScalarDefinition(
        name="BigInt",
        description="A whole number beyond Int's 32 bits (sums of tokens or calls), as a"
        " JSON number: exact up to 2^53.",
        specified_by_url=None,
        serialize=int,
        parse_value=int,
        parse_literal=None,
    ),
    Decimal: dataclasses.replace(
        DecimalDefinition,
        serialize=plain_decimal,
        parse_value=parse_decimal,
        description='A fixed-point decimal as a string, e.g. "0.000015" (money is never a float).',
    ),
    datetime: dataclasses.replace(DateTimeDefinition, parse_value=parse_datetime),
}


def literal_defaults(schema: GraphQLSchema) -> None:
    """Give every default that introspection cannot print (a ``JSON`` default such as
    ``{}``: graphql-core renders a scalar's default only when it serializes to a string,
    number or boolean) its literal, so ``__type { inputFields { defaultValue } }`` and
    GraphiQL's schema load answer instead of failing."""
    for named in schema.type_map.values():
        if isinstance(named, GraphQLInputObjectType):
            inputs = list(named.fields.values())
        elif isinstance(named, GraphQLObjectType):
            inputs = [arg for field in named.fields.values() for arg in field.args.values()]
        else:
            continue
        for item in inputs:
            if item.default is None and item.default_value is not Undefined:
                try:
                    ast_from_value(item.default_value, item.type)
                except TypeError:
                    literal = value_to_literal(item.default_value, item.type)
                    item.default = GraphQLDefaultInput(literal=literal)
