"""Query cost: every field costs 1, and a connection multiplies the cost of what it
selects by the page size it asks for (``first``/``last``, else the default page size).

The cost is computed before execution, returned to every response in
``extensions.cost`` (``requestedQueryCost``, ``maximumAvailable``), and a query that
costs more than the maximum is refused without running.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension

PAGE_ARGUMENTS = ("first", "last")


class CostCalculator:
    """Walks one operation of a parsed document with the schema's types."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        default_page_size: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.default_page_size = default_page_size

    def operation(self, node: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(node.operation)
        return 0 if root is None else self.selection_set(node.selection_set, root, set())

    def selection_set(
        self, selections: SelectionSetNode, parent: GraphQLNamedType, seen: set[str]
    ) -> int:
        return sum(
            self.field(field, owner) for field, owner in self._fields(selections, parent, seen)
        )

    def _fields(
        self, selections: SelectionSetNode, parent: GraphQLNamedType, seen: set[str]
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                owner = self._condition(selection.type_condition, parent)
                yield from self._fields(selection.selection_set, owner, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    owner = self._condition(fragment.type_condition, parent)
                    inner_seen = seen | {selection.name.value}
                    yield from self._fields(fragment.selection_set, owner, inner_seen)

    def _condition(self, condition: Any, parent: GraphQLNamedType) -> GraphQLNamedType:
        if condition is None:
            return parent
        return self.schema.get_type(condition.name.value) or parent

    def field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        if node.selection_set is None:
            return 1
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None:
            return 1
        child_type = get_named_type(definition.type)
        inner = self.selection_set(node.selection_set, child_type, set())
        if child_type.name.endswith("Connection"):
            return 1 + self.page_size(node) * inner
        return 1 + inner

    def page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value not in PAGE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 0)
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int):
                    return max(given, 0)
        return self.default_page_size


def query_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    default_page_size: int,
) -> int:
    """The cost of the operation ``operation_name`` of ``document``."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if not operations:
        return 0
    calculator = CostCalculator(schema, fragments, variables or {}, default_page_size)
    return calculator.operation(operations[0])


def cost_limiter(maximum: int, default_page_size: int) -> type[SchemaExtension]:
    """An extension class enforcing ``maximum`` and reporting the cost."""

    class QueryCostLimiter(SchemaExtension):
        cost: int | None = None

        def on_execute(self):  # type: ignore[no-untyped-def]
            context = self.execution_context
            document = context.graphql_document
            if document is not None:
                self.cost = query_cost(
                    context.schema._schema,
                    document,
                    context.operation_name,
                    context.variables,
                    default_page_size,
                )
                if self.cost > maximum:
                    message = (
                        f"Query cost {self.cost} exceeds the maximum of {maximum}: "
                        "ask for smaller pages or fewer fields."
                    )
                    error = GraphQLError(message, extensions={"code": "QUERY_TOO_COSTLY"})
                    context.result = ExecutionResult(data=None, errors=[error])
            yield

        def get_results(self) -> dict[str, Any]:
            if self.cost is None:
                return {}
            return {"cost": {"requestedQueryCost": self.cost, "maximumAvailable": maximum}}

    return QueryCostLimiter
