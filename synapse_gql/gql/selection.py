"""What a request selected under a field: the read path loads only those columns."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from strawberry.types.nodes import FragmentSpread, InlineFragment, SelectedField, Selection

from synapse_gql.context import Info


def _fields(selections: Iterable[Selection]) -> Iterator[SelectedField]:
    """The fields of ``selections``, fragments flattened (``@skip``/``@include`` ignored:
    a field that may be asked for counts as asked for)."""
    for selection in selections:
        if isinstance(selection, SelectedField):
            yield selection
        elif isinstance(selection, FragmentSpread | InlineFragment):
            yield from _fields(selection.selections)


def _children(fields: Iterable[SelectedField], name: str) -> list[SelectedField]:
    return [child for field in fields if field.name == name for child in _fields(field.selections)]


@dataclass(frozen=True)
class ConnectionSelection:
    """The fields asked of a connection's nodes, and whether ``totalCount`` is."""

    node_fields: frozenset[str]
    total_count: bool


def connection_selection(info: Info) -> ConnectionSelection:
    """What the current connection field selects (under ``edges.node`` and ``nodes``)."""
    top = list(_fields(info.selected_fields))
    connection = [child for field in top for child in _fields(field.selections)]
    nodes = _children(_children(connection, "edges"), "node") + _children(connection, "nodes")
    return ConnectionSelection(
        node_fields=frozenset(field.name for field in nodes),
        total_count=any(field.name == "totalCount" for field in connection),
    )


def object_fields(info: Info) -> frozenset[str]:
    """The fields the current field selects of the object it returns."""
    top = list(_fields(info.selected_fields))
    return frozenset(child.name for field in top for child in _fields(field.selections))
