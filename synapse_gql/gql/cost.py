"""Query cost: every field costs 1, and a connection multiplies the cost of what it
selects by the page size it asks for (``first``/``last``, else the default page size);
``nodes(ids:)`` multiplies the cost of its selection by the number of ids.

The cost is computed before execution, returned to every response in
``extensions.cost`` (``requestedQueryCost``, ``maximumAvailable``), and a query that
costs more than the maximum is refused without running.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
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
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_operation_ast,
)
from graphql.execution import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

PAGE_ARGUMENTS = ("first", "last")
CACHED_COSTS = 512
CACHED_QUERY_CHARS = 8192
# Fields that resolve one object per element of their ``ids`` list argument.
ID_LIST_FIELDS = frozenset({"nodes"})


Readings = dict[str, tuple[Callable[[Any], "int | None"], "int | None"]]


class CostCalculator:
    """Walks one operation of a parsed document with the schema's types.

    A fragment's cost for a given parent type is computed once and reused at every
    spread, so the walk is linear in the document's size however often fragments
    spread each other.
    """

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
        self._fragment_costs: dict[tuple[str, str], int] = {}
        self._open: set[str] = set()
        # How the cost read each variable: the same readings give the same cost.
        self.readings: Readings = {}

    def operation(self, node: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(node.operation)
        return 0 if root is None else self.selection_set(node.selection_set, root)

    def selection_set(self, selections: SelectionSetNode, parent: GraphQLNamedType) -> int:
        total = 0
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                owner = self._condition(selection.type_condition, parent)
                total += self.selection_set(selection.selection_set, owner)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.fragment(selection.name.value, parent)
        return total

    def fragment(self, name: str, parent: GraphQLNamedType) -> int:
        key = (name, parent.name)
        if key in self._fragment_costs:
            return self._fragment_costs[key]
        fragment = self.fragments.get(name)
        if fragment is None or name in self._open:
            return 0  # unknown fragments and cycles are refused by validation
        self._open.add(name)
        try:
            owner = self._condition(fragment.type_condition, parent)
            self._fragment_costs[key] = self.selection_set(fragment.selection_set, owner)
        finally:
            self._open.discard(name)
        return self._fragment_costs[key]

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
        inner = self.selection_set(node.selection_set, child_type)
        if child_type.name.endswith("Connection"):
            return 1 + self.page_size(node) * inner
        if node.name.value in ID_LIST_FIELDS:
            return 1 + self.id_count(node) * inner
        return 1 + inner

    def page_size(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value not in PAGE_ARGUMENTS:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(int(value.value), 0)
            if isinstance(value, VariableNode):
                given = self._read(value.name.value, page_reading)
                if given is not None:
                    return max(given, 0)
        return self.default_page_size

    def id_count(self, node: FieldNode) -> int:
        """How many objects ``nodes(ids:)`` asks for: each is resolved and costed."""
        for argument in node.arguments or ():
            if argument.name.value != "ids":
                continue
            value = argument.value
            if isinstance(value, ListValueNode):
                return len(value.values)
            if isinstance(value, VariableNode):
                given = self._read(value.name.value, id_count_reading)
                return 1 if given is None else given
        return 1

    def _read(self, name: str, reading: Callable[[Any], int | None]) -> int | None:
        value = reading(self.variables.get(name))
        self.readings[name] = (reading, value)
        return value


def page_reading(value: Any) -> int | None:
    """A page size variable as the cost reads it."""
    return value if isinstance(value, int) else None


def id_count_reading(value: Any) -> int | None:
    """An id list variable as the cost reads it: its length."""
    return len(value) if isinstance(value, list) else None


def query_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    default_page_size: int,
) -> int:
    """The cost of the operation ``operation_name`` of ``document``."""
    return measured_cost(schema, document, operation_name, variables, default_page_size)[0]


def measured_cost(
    schema: GraphQLSchema,
    document: Any,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    default_page_size: int,
) -> tuple[int, Readings]:
    """The cost of the operation and how it read the variables."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    # None when the name matches nothing, or is missing and the document has several
    # operations: such a request is refused before execution, so it costs nothing.
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0, {}
    calculator = CostCalculator(schema, fragments, variables or {}, default_page_size)
    return calculator.operation(operation), calculator.readings


class CostCache:
    """Costs by document text and operation name, each kept with the variable readings it
    was computed from: a request whose variables read the same gets it without a walk."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._costs: OrderedDict[tuple[str, str | None], tuple[int, Readings]] = OrderedDict()

    def get(self, key: tuple[str, str | None] | None, variables: Mapping[str, Any]) -> int | None:
        entry = self._costs.get(key) if key is not None else None
        if entry is None:
            return None
        cost, readings = entry
        if any(read(variables.get(name)) != value for name, (read, value) in readings.items()):
            return None
        self._costs.move_to_end(key)  # type: ignore[arg-type]
        return cost

    def put(self, key: tuple[str, str | None] | None, cost: int, readings: Readings) -> None:
        if key is None:
            return
        self._costs[key] = (cost, readings)
        self._costs.move_to_end(key)
        if len(self._costs) > self.size:
            self._costs.popitem(last=False)


def refuse_execution(context: ExecutionContext, error: GraphQLError) -> None:
    """Stop the operation before it runs, answering ``error``: from ``on_execute``."""
    if context.operation_type is OperationType.SUBSCRIPTION:
        raise error  # a subscription ignores a preset result: it answers a raised error
    context.result = ExecutionResult(data=None, errors=[error])


COST_ATTRIBUTE = "synapse_query_cost"


def computed_cost(execution: Any) -> int | None:
    """The cost the limiter computed for this execution (None when it did not run)."""
    return getattr(execution, COST_ATTRIBUTE, None)


def cost_limiter(maximum: int, default_page_size: int) -> type[SchemaExtension]:
    """An extension class enforcing ``maximum`` and reporting the cost."""
    costs = CostCache(CACHED_COSTS)

    class QueryCostLimiter(SchemaExtension):
        cost: int | None = None

        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if document is not None:
                try:
                    self.cost = self._cost(context, document)
                except RecursionError:  # fragments chained too long to walk: refuse
                    self._refuse("The document is nested too deeply to be costed.")
                else:
                    # Kept on the execution for the extensions after this one (rate limits).
                    setattr(context, COST_ATTRIBUTE, self.cost)
                    if self.cost > maximum:
                        self._refuse(
                            f"Query cost {self.cost} exceeds the maximum of {maximum}: "
                            "ask for smaller pages or fewer fields."
                        )
            yield

        def _cost(self, context: ExecutionContext, document: Any) -> int:
            query = context.query
            key: tuple[str, str | None] | None = None
            if query is not None and len(query) <= CACHED_QUERY_CHARS:
                key = (query, context.operation_name)
            variables = context.variables or {}
            cost = costs.get(key, variables)
            if cost is None:
                schema = context.schema._schema
                name = context.operation_name
                cost, readings = measured_cost(schema, document, name, variables, default_page_size)
                costs.put(key, cost, readings)
            return cost

        def _refuse(self, message: str) -> None:
            error = GraphQLError(message, extensions={"code": "QUERY_TOO_COSTLY"})
            refuse_execution(self.execution_context, error)

        def get_results(self) -> dict[str, Any]:
            if self.cost is None:
                return {}
            return {"cost": {"requestedQueryCost": self.cost, "maximumAvailable": maximum}}

    return QueryCostLimiter
