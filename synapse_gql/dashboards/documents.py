"""Checking a widget before it is saved: its document is one query, valid against the
running schema and within the query limits, and its variables fit the query's
declarations. Every refusal is INVALID_INPUT naming the widget's field."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    parse,
    specified_rules,
    validate,
    visit,
)
from graphql.execution.values import get_variable_values

from synapse_gql.config import Settings
from synapse_gql.dashboards.variables import run_variables
from synapse_gql.dashboards.widgets import WidgetSpec
from synapse_gql.errors import InvalidInput
from synapse_gql.gql import validation
from synapse_gql.gql.cost import query_cost
from synapse_gql.gql.depth import document_limits_rule

MAX_OPERATION_CHARS = 16_384
MAX_VARIABLES_BYTES = 16_384
MAX_CACHE_SECONDS = 3600
WIDGET_TYPE = "DashboardWidget"
WIDGET_DATA_FIELD = "data"


class _WidgetDataFinder(Visitor):
    """Finds a selection of ``DashboardWidget.data``: a widget may not run widgets."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.found = False

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        parent = self.type_info.get_parent_type()
        if parent is not None and parent.name == WIDGET_TYPE:
            self.found = self.found or node.name.value == WIDGET_DATA_FIELD


def selects_widget_data(schema: GraphQLSchema, document: DocumentNode) -> bool:
    """True when the document reads some widget's data."""
    type_info = TypeInfo(schema)
    finder = _WidgetDataFinder(type_info)
    visit(document, TypeInfoVisitor(type_info, finder))
    return finder.found


def single_query(document: DocumentNode) -> OperationDefinitionNode | None:
    """The document's one operation when it is a query, else None."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return None
    return operations[0]


class DocumentChecker:
    """Checks widgets against ``schema`` with the limits of ``settings``."""

    def __init__(self, schema: GraphQLSchema, settings: Settings) -> None:
        self.schema = schema
        self.settings = settings
        self.rules = (
            *specified_rules,
            document_limits_rule(settings.max_query_depth, settings.max_aliases),
        )

    def widget(self, spec: WidgetSpec, workspace_global_id: str, path: Sequence[str]) -> WidgetSpec:
        """``spec`` with its title trimmed, or INVALID_INPUT at ``path`` + the field."""
        title = validation.text(spec.title, [*path, "title"])
        variables = validation.json_object(
            spec.variables, [*path, "variables"], max_bytes=MAX_VARIABLES_BYTES
        )
        if not 0 <= spec.cache_seconds <= MAX_CACHE_SECONDS:
            message = f"The cache time is 0 to {MAX_CACHE_SECONDS} seconds."
            raise InvalidInput(message, field=[*path, "cacheSeconds"])
        document = self.document(spec.operation, [*path, "operation"])
        values = self.variables(document, variables, workspace_global_id, [*path, "variables"])
        self.cost(document, values, [*path, "operation"])
        return WidgetSpec(
            title=title,
            operation=spec.operation,
            variables=variables,
            chart_kind=spec.chart_kind,
            cache_seconds=spec.cache_seconds,
        )

    def document(self, text: str, path: list[str]) -> DocumentNode:
        """The parsed document: one query, valid, within the depth, alias and token limits."""
        if len(text) > MAX_OPERATION_CHARS:
            raise InvalidInput(f"Limited to {MAX_OPERATION_CHARS} characters.", field=path)
        try:
            document = parse(text, max_tokens=self.settings.max_query_tokens)
        except GraphQLError as error:
            raise InvalidInput(f"Not a GraphQL document: {error.message}", field=path) from None
        if single_query(document) is None:
            raise InvalidInput("A widget runs exactly one query operation.", field=path)
        errors = validate(self.schema, document, self.rules)
        if errors:
            raise InvalidInput(f"Invalid query: {errors[0].message}", field=path)
        if selects_widget_data(self.schema, document):
            raise InvalidInput("A widget may not read the data of widgets.", field=path)
        return document

    def variables(
        self,
        document: DocumentNode,
        stored: dict[str, Any],
        workspace_global_id: str,
        path: list[str],
    ) -> dict[str, Any]:
        """The variables as the widget runs them, checked against the declarations."""
        operation = single_query(document)
        assert operation is not None  # checked by ``document``
        values = run_variables(operation, stored, workspace_global_id, datetime.now(UTC))
        coerced = get_variable_values(self.schema, operation.variable_definitions or (), values)
        if isinstance(coerced, list):
            raise InvalidInput(f"Invalid variables: {coerced[0].message}", field=path)
        return values

    def cost(self, document: DocumentNode, values: dict[str, Any], path: list[str]) -> None:
        """The query's cost with ``values`` is within the maximum."""
        settings = self.settings
        cost = query_cost(self.schema, document, None, values, settings.default_page_size)
        if cost > settings.max_query_cost:
            message = f"Query cost {cost} exceeds the maximum of {settings.max_query_cost}."
            raise InvalidInput(message, field=path)
