"""``UsageBucket``'s figures completed by GraphQL in one step.

A month by day x model is 620 buckets of 14 fields: 8,700 leaf fields. For each,
Strawberry wraps the attribute read in two calls and builds a resolve info, and
graphql-core dispatches the value through four completion steps; that was most of the
summary's CPU. :func:`plain_bucket_resolvers` gives the plain scalar fields of
``UsageBucket`` a direct attribute read, and :class:`PlainFieldExecutionContext`
completes those fields by coercing the attribute with the field's scalar. Anything
unusual (a null, a coercion that fails, field middleware) takes graphql-core's general
way, which then reports it as it would have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    Undefined,
    get_nullable_type,
    is_non_null_type,
)
from graphql.execution.collect_fields import FieldDetailsList
from graphql.pyutils import AwaitableOrValue, Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

PLAIN_TYPES = ("UsageBucket",)


@dataclass(frozen=True, slots=True)
class PlainLeaf:
    """How to complete one plain scalar field: its attribute and its scalar."""

    attribute: str
    scalar: GraphQLScalarType
    non_null: bool


_PLAIN_LEAVES: dict[Callable[..., Any] | None, PlainLeaf] = {}


def _reader(name: str) -> Callable[[Any, GraphQLResolveInfo], Any]:
    def read(source: Any, _info: GraphQLResolveInfo) -> Any:
        return getattr(source, name)

    return read


def plain_bucket_resolvers(schema: GraphQLSchema) -> None:
    """Resolve the scalar fields without resolver of ``PLAIN_TYPES`` by reading their
    attribute, and mark them for :class:`PlainFieldExecutionContext`."""
    for type_name in PLAIN_TYPES:
        object_type = schema.type_map[type_name]
        assert isinstance(object_type, GraphQLObjectType)
        for graphql_field in object_type.fields.values():
            field = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            scalar = get_nullable_type(graphql_field.type)
            plain = isinstance(field, StrawberryField) and field.is_basic_field
            if plain and isinstance(scalar, GraphQLScalarType):
                assert isinstance(field, StrawberryField)
                read = _reader(field.python_name)
                graphql_field.resolve = read
                non_null = is_non_null_type(graphql_field.type)
                _PLAIN_LEAVES[read] = PlainLeaf(field.python_name, scalar, non_null)


class PlainFieldExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution, with the plain fields completed in one step."""

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: FieldDetailsList,
        path: Path,
        position_context: Any,
    ) -> Any:
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        leaf = _PLAIN_LEAVES.get(field_def.resolve) if field_def is not None else None
        if leaf is not None and not self._has_middleware():
            value = getattr(source, leaf.attribute)
            if value is None and not leaf.non_null:
                return None
            if value is not None:
                completed = self._coerced(leaf.scalar, value)
                if completed is not Undefined:
                    return completed
        return self._general(parent_type, source, field_details_list, path, position_context)

    def _general(self, *args: Any) -> AwaitableOrValue[Any]:
        return super().execute_field(*args)

    def _has_middleware(self) -> bool:
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)

    @staticmethod
    def _coerced(scalar: GraphQLScalarType, value: Any) -> Any:
        try:
            completed = scalar.coerce_output_value(value)
        except Exception:  # the general way reports it
            return Undefined
        return Undefined if completed is None else completed
