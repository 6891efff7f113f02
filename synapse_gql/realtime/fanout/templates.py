"""A delta's ``next`` payload written without running graphql-core.

A ``MessageDelta`` has four plain fields and ``__typename``, none of them resolved by code
that could fail or depend on the viewer, so the payload of a delta is fully determined by
the document's selection on it: which of those fields it asks for, under which response
keys, in which order. :func:`delta_template` reads that selection once per document
(fields, aliases, inline fragments and fragment spreads that apply to ``MessageDelta``) and
gives a :class:`DeltaTemplate` that renders a delta to the same JSON text as executing the
event and encoding its result (``payloads.encode_result``). Anything it does not model
(directives, arguments, a sub-selection, a field it does not know) gives None, and the
group executes every delta as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable

import orjson
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionNode,
    is_abstract_type,
)
from graphql.execution import Executor

from synapse_gql.gql.relay import to_global_id
from synapse_gql.realtime.stream_log import Delta

DELTA_TYPE = "MessageDelta"

_Value = Callable[[str, Delta], str]

# How each field of a delta is written (the global id is encoded once per answer).
_FIELDS: dict[str, _Value] = {
    "__typename": lambda global_id, delta: '"' + DELTA_TYPE + '"',
    "messageId": lambda global_id, delta: global_id,
    "sequence": lambda global_id, delta: str(delta.sequence),
    "offset": lambda global_id, delta: str(delta.offset),
    "text": lambda global_id, delta: orjson.dumps(delta.text).decode(),
}


class _Unsupported(Exception):
    """The selection holds something the template does not model."""


class DeltaTemplate:
    """The ``next`` payload of a delta for one document: ``{"data":{root:{...}}}``."""

    def __init__(self, root_key: str, fields: list[tuple[str, str]]) -> None:
        self._head = '{"data":{' + orjson.dumps(root_key).decode() + ":{"
        self._parts = [(orjson.dumps(key).decode() + ":", _FIELDS[name]) for key, name in fields]

    def render(self, message_id: uuid.UUID, delta: Delta) -> str:
        """The payload of ``delta`` of the answer ``message_id``."""
        global_id = orjson.dumps(to_global_id("Message", message_id)).decode()
        body = ",".join(key + value(global_id, delta) for key, value in self._parts)
        return self._head + body + "}}}"


def delta_template(executor: Executor) -> DeltaTemplate | None:
    """The template of the executor's operation (one root field) on a delta, or None
    when it cannot be one."""
    selections = executor.operation.selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    root = selections[0]
    if root.directives or root.selection_set is None:
        return None
    fields: dict[str, str] = {}
    try:
        _collect(
            executor.schema,
            executor.fragment_definitions,
            root.selection_set.selections,
            fields,
            set(),
        )
    except _Unsupported:
        return None
    root_key = root.alias.value if root.alias else root.name.value
    return DeltaTemplate(root_key, list(fields.items()))


def _collect(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    selections: Iterable[SelectionNode],
    fields: dict[str, str],
    spread: set[str],
) -> None:
    """Add the response keys the selections give a delta to ``fields``, in order."""
    for selection in selections:
        if selection.directives:
            raise _Unsupported
        if isinstance(selection, FieldNode):
            _add_field(selection, fields)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is None or _applies(schema, condition.name.value):
                _collect(schema, fragments, selection.selection_set.selections, fields, spread)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or fragment.directives:
                raise _Unsupported
            if name in spread or not _applies(schema, fragment.type_condition.name.value):
                continue
            spread.add(name)
            _collect(schema, fragments, fragment.selection_set.selections, fields, spread)
        else:
            raise _Unsupported


def _add_field(node: FieldNode, fields: dict[str, str]) -> None:
    name = node.name.value
    if name not in _FIELDS or node.arguments or node.selection_set is not None:
        raise _Unsupported
    key = node.alias.value if node.alias else name
    if fields.setdefault(key, name) != name:
        raise _Unsupported  # two fields under one key: left to validation and execution


def _applies(schema: GraphQLSchema, type_name: str) -> bool:
    """True when a fragment on ``type_name`` applies to a delta."""
    if type_name == DELTA_TYPE:
        return True
    named = schema.get_type(type_name)
    delta_type = schema.get_type(DELTA_TYPE)
    if named is None or delta_type is None or not is_abstract_type(named):
        return False
    return schema.is_sub_type(named, delta_type)
