"""One check of every argument before anything executes: text the database cannot store
(NUL, unpaired surrogates) and numbers JSON columns cannot hold (NaN, infinities) are
refused with ``INVALID_INPUT`` naming the argument, for every field of the schema.

Literal arguments and variable values are walked recursively: input objects, lists and
``JSON`` values, their keys included. The walk is over the document's argument nodes, so
a variable is reported under the argument it feeds (``["input", "title"]``).
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    ListValueNode,
    ObjectValueNode,
    StringValueNode,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from strawberry.extensions import SchemaExtension

from synapse_gql.errors import ErrorCode

Path = list[str]


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "Text may not contain the NUL character (U+0000)."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Text may not contain unpaired UTF-16 surrogates (U+D800 to U+DFFF)."
    return None


def _shown(key: str) -> str:
    """A key fit for an error path: the bad characters escaped, so the answer encodes."""
    return key.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")


def value_problems(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """Problems of a plain (variable or JSON) value: ``(path, message)`` pairs."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem:
            yield path, problem
    elif isinstance(value, float) and not math.isfinite(value):
        yield path, "Numbers must be finite (no NaN or Infinity)."
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key_path = [*path, _shown(str(key))]
            problem = text_problem(str(key))
            if problem:
                yield key_path, problem
            yield from value_problems(item, key_path)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from value_problems(item, [*path, str(index)])


class _ArgumentWalker(Visitor):
    """Collects the problems of every argument of a document."""

    def __init__(self, variables: Mapping[str, Any], defaults: Mapping[str, ValueNode]) -> None:
        super().__init__()
        self.variables = variables
        self.defaults = defaults
        self.problems: list[tuple[Path, str]] = []

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.problems.extend(self._literal(node.value, [node.name.value]))

    def _literal(self, node: ValueNode, path: Path) -> Iterator[tuple[Path, str]]:
        if isinstance(node, StringValueNode):
            problem = text_problem(node.value)
            if problem:
                yield path, problem
        elif isinstance(node, VariableNode):
            yield from self._variable(node.name.value, path)
        elif isinstance(node, ObjectValueNode):
            for field in node.fields:
                yield from self._literal(field.value, [*path, field.name.value])
        elif isinstance(node, ListValueNode):
            for index, item in enumerate(node.values):
                yield from self._literal(item, [*path, str(index)])

    def _variable(self, name: str, path: Path) -> Iterator[tuple[Path, str]]:
        if name in self.variables:
            yield from value_problems(self.variables[name], path)
        elif name in self.defaults:
            yield from self._literal(self.defaults[name], path)


def document_problems(
    document: DocumentNode, variables: Mapping[str, Any] | None
) -> list[tuple[Path, str]]:
    """Every refused argument value of ``document`` with ``variables``."""
    defaults = {
        definition.variable.name.value: definition.default_value
        for definition in _variable_definitions(document)
        if definition.default_value is not None
    }
    walker = _ArgumentWalker(variables or {}, defaults)
    for argument in _arguments(document):
        walker.enter_argument(argument)
    return walker.problems


class _ArgumentCollector(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.arguments: list[ArgumentNode] = []

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.arguments.append(node)


CACHED_DOCUMENTS = 256
_collected: OrderedDict[int, tuple[weakref.ref[DocumentNode], tuple[ArgumentNode, ...]]] = (
    OrderedDict()
)


def _arguments(document: DocumentNode) -> tuple[ArgumentNode, ...]:
    """The argument nodes of ``document`` in document order, collected once per parsed
    document (subscribers of one feed share theirs: ``realtime.fanout``)."""
    found = _collected.get(id(document))
    if found is not None and found[0]() is document:
        _collected.move_to_end(id(document))
        return found[1]
    collector = _ArgumentCollector()
    visit(document, collector)
    arguments = tuple(collector.arguments)
    _collected[id(document)] = (weakref.ref(document), arguments)
    if len(_collected) > CACHED_DOCUMENTS:
        _collected.popitem(last=False)
    return arguments


def _variable_definitions(document: DocumentNode) -> Iterator[VariableDefinitionNode]:
    for definition in document.definitions:
        yield from getattr(definition, "variable_definitions", None) or ()


def invalid_input_error(path: Path, message: str) -> GraphQLError:
    """The GraphQL error of a refused argument: ``INVALID_INPUT`` with its ``field`` path."""
    code = ErrorCode.INVALID_INPUT.value
    return GraphQLError(message, extensions={"code": code, "field": path, "path": path})


class InputGuard(SchemaExtension):
    """Refuses the whole operation, before it executes, when an argument holds a value the
    database cannot store; the first such argument is named in the error."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        # A result set by an earlier extension already refused the operation.
        if context.graphql_document is not None and context.result is None:
            problems = document_problems(context.graphql_document, context.variables)
            if problems:
                raise invalid_input_error(*problems[0])
        yield
