"""SQL text of the compiled read path: bound parameters and the JSON forms of scalars.

Every expression here renders a value exactly as the GraphQL layer would serialize it
(``datetime.isoformat()``, the plain decimal text of ``gql.scalars``, enum names, the
global IDs of ``gql.relay`` and the cursors of ``gql.pagination``), so an answer built in
PostgreSQL decodes to the same JSON as the resolvers' answer.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class Params:
    """The positional parameters of one statement: ``add`` returns the ``$n`` to write."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._shared: dict[str, str] = {}

    def add(self, value: Any, cast: str | None) -> str:
        """The placeholder of ``value``; ``cast`` None lets PostgreSQL infer its type."""
        self.values.append(value)
        placeholder = f"${len(self.values)}"
        return placeholder if cast is None else f"{placeholder}::{cast}"

    def shared(self, name: str, value: Any, cast: str) -> str:
        """One parameter for every use of ``name`` in the statement (the viewer's id)."""
        placeholder = self._shared.get(name)
        if placeholder is None:
            placeholder = self._shared[name] = self.add(value, cast)
        return placeholder


def text_literal(value: str) -> str:
    """A SQL string literal of a name known to the schema (a field, a type, a key)."""
    return "'" + value.replace("'", "''") + "'"


def iso_timestamp(expr: str) -> str:
    """``expr`` (a timestamptz) as Python's ``isoformat()`` of the UTC datetime the driver
    returns: microseconds only when there are any, offset ``+00:00``."""
    utc = f"({expr} AT TIME ZONE 'UTC')"
    return (
        f"(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN date_trunc('second', {utc})"
        f" = {utc} THEN '' ELSE '.' || to_char({utc}, 'US') END || '+00:00')"
    )


def plain_decimal(expr: str) -> str:
    """A NUMERIC as ``gql.scalars.plain_decimal`` writes it: no trailing zeros."""
    return f"(trim_scale({expr})::text)"


def enum_name(expr: str, names_by_value: Mapping[str, str]) -> str:
    """A stored enum value as its GraphQL name."""
    cases = " ".join(
        f"WHEN {text_literal(value)} THEN {text_literal(name)}"
        for value, name in names_by_value.items()
    )
    return f"(CASE {expr}::text {cases} END)"


def enum_names(graphql_values: Mapping[str, Any]) -> dict[str, str]:
    """Stored value -> GraphQL name, from a GraphQL enum's values."""
    found: dict[str, str] = {}
    for name, value in graphql_values.items():
        stored = value.value.value if isinstance(value.value, enum.Enum) else value.value
        found[str(stored)] = name
    return found


def _base64(expr: str, urlsafe: bool) -> str:
    # encode(..., 'base64') wraps lines at 76 characters: the newlines go, and the URL-safe
    # alphabet replaces '+' and '/' for cursors.
    if urlsafe:
        return f"translate(encode(convert_to({expr}, 'UTF8'), 'base64'), E'+/\\n', '-_')"
    return f"translate(encode(convert_to({expr}, 'UTF8'), 'base64'), E'\\n', '')"


def global_id(type_name: str, id_expr: str) -> str:
    """``gql.relay.to_global_id(type_name, id)``."""
    return _base64(f"{text_literal(type_name + ':')} || {id_expr}::text", urlsafe=False)


def timestamp_cursor(sort_expr: str, id_expr: str) -> str:
    """``gql.pagination.encode_cursor(sort value, id)`` for a timestamp sort value."""
    raw = f"'[{{\"t\":\"' || {iso_timestamp(sort_expr)} || '\"}},\"' || {id_expr}::text || '\"]'"
    return _base64(raw, urlsafe=True)


def json_object(pairs: list[tuple[str, str]]) -> str:
    """``json_build_object`` of (response key, SQL expression), in order."""
    if not pairs:
        return "json_build_object()"
    body = ", ".join(f"{text_literal(key)}, {expr}" for key, expr in pairs)
    return f"json_build_object({body})"
