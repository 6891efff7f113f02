"""From a validated operation to SQL: the static check and the per-request statement.

``compilable`` decides once per operation whether every field it can select (through
fragments, on every type condition) has a SQL form. ``Statement`` then turns the fields
that a request's variables actually select (``@include``/``@skip`` and fragments merged
by graphql-core's own field collection) into one ``SELECT json_build_object(...)``,
decoding ids and cursors and checking page sizes with the resolvers' own functions: when
one of them raises, the request runs its resolvers, which report the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from itertools import count
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.execution.values import get_argument_values

from synapse_gql.compiled import access, sql
from synapse_gql.compiled.registry import (
    PAGE_ARGUMENTS,
    WORKSPACES_SORT,
    ListField,
    TableType,
    Unsupported,
    registry,
)
from synapse_gql.compiled.sql import Params
from synapse_gql.errors import DomainError
from synapse_gql.gql.pagination import PageArgs, SortKey, decode_cursor, page_size
from synapse_gql.gql.relay import check_node_count, from_global_id

ROOT_FIELDS = {"node": {"id"}, "nodes": {"ids"}, "workspace": {"id", "slug"}}
ROOT_LISTS = {"workspaces": PAGE_ARGUMENTS}
CONNECTION_FIELDS = {"edges", "nodes", "pageInfo", "totalCount"}
EDGE_FIELDS = {"cursor", "node"}
PAGE_INFO_FIELDS = {"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"}
ALLOWED_DIRECTIVES = {"include", "skip"}
# How each table type's rows are checked when fetched by id (``node``/``nodes``): the
# conditions of the node resolvers registered with ``gql.relay.register_node``.
NODE_VISIBILITY = {
    "Workspace": ("id", access.readable),
    "Conversation": ("workspace_id", access.readable),
    "Message": ("conversation_id", access.readable_conversations),
    "UsageLog": ("workspace_id", access.usage_readable),
}


def compilable(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, Any],
) -> bool:
    """Whether every field ``operation`` may select has a SQL form (a query only)."""
    if operation.operation is not OperationType.QUERY:
        return False
    checker = _Checker(schema, fragments)
    query = schema.query_type
    assert query is not None
    try:
        checker.selections(query, operation.selection_set, set())
    except Unsupported:
        return False
    return True


class _Checker:
    """Walks the selection sets of an operation, raising ``Unsupported`` at the first
    field without a SQL form."""

    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, Any]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.tables = registry(schema)

    def selections(self, parent: Any, selection_set: SelectionSetNode, seen: set[str]) -> None:
        for selection in selection_set.selections:
            for directive in selection.directives or ():
                if directive.name.value not in ALLOWED_DIRECTIVES:
                    raise Unsupported(directive.name.value)
            if isinstance(selection, FieldNode):
                self.field(parent, selection)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = parent if condition is None else self.type_named(condition.name.value)
                self.selections(self.narrowed(parent, target), selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen:
                    continue
                definition = self.fragments[name]
                definition = getattr(definition, "definition", definition)
                target = self.type_named(definition.type_condition.name.value)
                inner = seen | {name}
                self.selections(self.narrowed(parent, target), definition.selection_set, inner)

    def type_named(self, name: str) -> Any:
        return self.schema.type_map[name]

    def narrowed(self, parent: Any, target: Any) -> Any:
        """The type a fragment's fields are read on: its condition when it is an object
        type, else the enclosing type."""
        if isinstance(target, GraphQLObjectType):
            if is_abstract_type(parent) or target is parent:
                return target
            raise Unsupported("fragment on another type")
        return parent

    def field(self, parent: Any, node: FieldNode) -> None:
        name = node.name.value
        if name == "__typename":
            return
        arguments = {argument.name.value for argument in node.arguments or ()}
        query = self.schema.query_type
        if parent is query:
            allowed = ROOT_FIELDS.get(name) or ROOT_LISTS.get(name)
            if allowed is None or not arguments <= allowed:
                raise Unsupported(name)
        elif is_abstract_type(parent):
            if name != "id":
                raise Unsupported(name)
            return
        elif parent.name in self.tables:
            table = self.tables[parent.name]
            if name in table.scalars and not arguments:
                return
            listed = table.lists.get(name)
            if listed is None or not arguments <= listed.arguments:
                raise Unsupported(f"{parent.name}.{name}")
        elif not self.connection_part(parent, name):
            raise Unsupported(f"{parent.name}.{name}")
        self.children(parent, name, node)

    def connection_part(self, parent: Any, name: str) -> bool:
        if parent.name.endswith("Connection"):
            return name in CONNECTION_FIELDS
        if parent.name.endswith("Edge"):
            return name in EDGE_FIELDS
        return parent.name == "PageInfo" and name in PAGE_INFO_FIELDS

    def children(self, parent: Any, name: str, node: FieldNode) -> None:
        field_type = get_named_type(parent.fields[name].type)
        if node.selection_set is None:
            return
        if isinstance(field_type, GraphQLObjectType) and not (
            field_type.name in self.tables
            or self.connection_part(field_type, "edges")
            or field_type.name.endswith("Edge")
            or field_type.name == "PageInfo"
        ):
            raise Unsupported(field_type.name)
        self.selections(field_type, node.selection_set, set())


class Statement:
    """The SQL of one request of a compilable operation, built from the fields that its
    variables select. Raises ``Unsupported`` where the resolvers must answer."""

    def __init__(self, executor: Any, viewer_id: Any, settings: Any) -> None:
        self.executor = executor
        self.schema: GraphQLSchema = executor.schema
        self.tables = registry(self.schema)
        self.viewer_id = viewer_id
        self.settings = settings
        self.params = Params()
        self._aliases = count()
        self._scanned: set[str] = set()

    def build(self, root_fields: GroupedFieldSet) -> str:
        """``SELECT json_build_object(<root fields>)::text``."""
        try:
            return self._build(root_fields)
        except DomainError as error:  # an argument the resolvers refuse, with this error
            raise Unsupported(str(error)) from None

    def _build(self, root_fields: GroupedFieldSet) -> str:
        query = self.schema.query_type
        pairs = []
        for key, details in root_fields.items():
            name = details[0].node.name.value
            if name == "__typename":
                pairs.append((key, sql.text_literal("Query")))
                continue
            field_def = query.fields[name] if query is not None else None
            if field_def is None:
                raise Unsupported(name)
            builder = getattr(self, f"_root_{name}", None)
            if builder is None:
                raise Unsupported(name)
            pairs.append((key, builder(self.arguments(field_def, details), details)))
        return f"SELECT {sql.json_object(pairs)}::text"

    # Roots -----------------------------------------------------------------------------

    def _root_node(self, args: Mapping[str, Any], details: FieldDetailsList) -> str:
        return self.node_by_id(args["id"], details)

    def _root_nodes(self, args: Mapping[str, Any], details: FieldDetailsList) -> str:
        ids = args["ids"]
        self.checked(check_node_count, ids, self.settings.max_nodes_ids)
        return "json_build_array(" + ", ".join(self.node_by_id(i, details) for i in ids) + ")"

    def _root_workspace(self, args: Mapping[str, Any], details: FieldDetailsList) -> str:
        workspace_id, slug = args.get("id"), args.get("slug")
        if workspace_id is None and slug is None:
            return "NULL::json"
        table = self.tables["Workspace"]
        alias = self.alias("w")
        terms = [f"{alias}.id IN {access.readable().render(self.params, self.viewer_id)}"]
        if workspace_id is not None:
            decoded = self.checked(from_global_id, workspace_id, "Workspace")[1]
            terms.append(f"{alias}.id = {self.params.add(decoded, 'uuid')}")
        if slug is not None:
            terms.append(f"{alias}.slug = {self.params.add(slug, 'text')}")
        body = self.object_json(table, alias, details)
        return f"(SELECT {body} FROM workspaces {alias} WHERE {' AND '.join(terms)} LIMIT 1)"

    def _root_workspaces(self, args: Mapping[str, Any], details: FieldDetailsList) -> str:
        def readable(alias: str) -> list[str]:
            return [f"{alias}.id IN {access.readable().render(self.params, self.viewer_id)}"]

        key, sort = WORKSPACES_SORT(args)
        query = self.schema.query_type
        assert query is not None
        connection_type = get_named_type(query.fields["workspaces"].type)
        table = self.tables["Workspace"]
        return self.connection(connection_type, table, readable, key, sort, args, details)

    def node_by_id(self, global_id: str, details: FieldDetailsList) -> str:
        type_name, db_id = self.checked(from_global_id, global_id, None, field="ids")
        table = self.tables.get(type_name)
        if table is None:
            raise Unsupported(type_name)
        column, predicate = NODE_VISIBILITY[type_name]
        alias = self.alias("n")
        body = self.object_json(table, alias, details)
        visible = predicate().render(self.params, self.viewer_id)
        return (
            f"(SELECT {body} FROM {table.table} {alias} WHERE {alias}.id ="
            f" {self.params.add(db_id, 'uuid')} AND {alias}.{column} IN {visible})"
        )

    # Objects and connections -------------------------------------------------------------

    def object_json(self, table: TableType, alias: str, details: FieldDetailsList) -> str:
        """The JSON object of the row ``alias`` of ``table`` for the fields selected."""
        object_type = self.schema.type_map[table.name]
        assert isinstance(object_type, GraphQLObjectType)
        collected = self.executor.collect_subfields(object_type, details).grouped_field_set
        pairs = []
        for key, sub in collected.items():
            name = sub[0].node.name.value
            if name == "__typename":
                pairs.append((key, sql.text_literal(table.name)))
            elif name in table.scalars:
                pairs.append((key, table.scalars[name].render(alias)))
            elif name in table.lists:
                field_def = object_type.fields[name]
                args = self.arguments(field_def, sub)
                connection_type = get_named_type(field_def.type)
                listed = table.lists[name]
                pairs.append((key, self.child_list(connection_type, listed, alias, args, sub)))
            else:
                raise Unsupported(f"{table.name}.{name}")
        return sql.json_object(pairs)

    def child_list(
        self,
        connection_type: Any,
        listed: ListField,
        parent: str,
        args: Mapping[str, Any],
        details: FieldDetailsList,
    ) -> str:
        def conditions(alias: str) -> list[str]:
            own = listed.conditions(args, alias, self.params, self.viewer_id)
            return [f"{alias}.{listed.parent_column} = {parent}.id", *own]

        key, sort = self.checked(listed.sort, args)
        child = self.tables[listed.child]
        return self.connection(connection_type, child, conditions, key, sort, args, details)

    def connection(
        self,
        connection_type: Any,
        table: TableType,
        conditions: Any,
        key: SortKey,
        sort: Any,
        args: Mapping[str, Any],
        details: FieldDetailsList,
    ) -> str:
        """A connection of ``table`` rows: a keyset page ``ORDER BY sort, id LIMIT n + 1``
        numbered by ``row_number()``, aggregated into nodes, edges and page info."""
        page = PageArgs(args.get("first"), args.get("after"), args.get("last"), args.get("before"))
        size, backwards = self.checked(
            page_size, page, self.settings.default_page_size, self.settings.max_page_size
        )
        scan = Scan(self, table, conditions, key, sort, page, size, backwards)
        collected = self.executor.collect_subfields(connection_type, details).grouped_field_set
        pairs = []
        for response_key, sub in collected.items():
            name = sub[0].node.name.value
            if name == "__typename":
                pairs.append((response_key, sql.text_literal(connection_type.name)))
            elif name == "totalCount":
                pairs.append((response_key, scan.total()))
            elif name == "nodes":
                pairs.append((response_key, scan.aggregate(scan.node_json(sub))))
            elif name == "edges":
                edge_type = get_named_type(connection_type.fields["edges"].type)
                pairs.append((response_key, scan.aggregate(scan.edge_json(edge_type, sub))))
            elif name == "pageInfo":
                info_type = get_named_type(connection_type.fields["pageInfo"].type)
                pairs.append((response_key, scan.page_info(info_type, sub)))
            else:
                raise Unsupported(name)
        if not scan.used:  # only totalCount and __typename: no page to read
            return f"(SELECT {sql.json_object(pairs)})"
        # Aggregates over an empty page still give their one row (GROUP BY the empty set).
        rows = f"LATERAL ({scan.inner()}) {scan.page}"
        return f"(SELECT {sql.json_object(pairs)} FROM {rows} GROUP BY ())"

    # Helpers -----------------------------------------------------------------------------

    def arguments(self, field_def: Any, details: FieldDetailsList) -> dict[str, Any]:
        """The field's coerced arguments, defaults applied (as its resolver gets them)."""
        first = details[0]
        return get_argument_values(
            field_def,
            first.node,
            self.executor.variable_values,
            first.fragment_variable_values,
        )

    def alias(self, prefix: str) -> str:
        return f"{prefix}{next(self._aliases)}"

    def scan_alias(self, table: str) -> str:
        """``table`` itself for its first page scan, a fresh alias for any other (a scan
        never refers to another by name: children join on their parent's page alias)."""
        if table in self._scanned:
            return self.alias("t")
        self._scanned.add(table)
        return table

    @staticmethod
    def checked(function: Any, *args: Any, **kwargs: Any) -> Any:
        """``function(*args)``; a domain error it raises sends the request to the resolvers."""
        try:
            return function(*args, **kwargs)
        except DomainError as error:
            raise Unsupported(str(error)) from None


class Scan:
    """One page of a connection: ``ORDER BY sort, id LIMIT n`` from the cursor on (the
    same cost at any depth), the aggregates over it, and whether rows lie beyond it
    (``EXISTS (... OFFSET n)``, only when ``hasNextPage``/``hasPreviousPage`` needs it)."""

    def __init__(
        self,
        statement: Statement,
        table: TableType,
        conditions: Any,
        key: SortKey,
        sort: Any,
        page: PageArgs,
        size: int,
        backwards: bool,
    ) -> None:
        self.statement = statement
        self.table = table
        self.conditions = conditions
        self.key = key
        self.sort = sort
        self.args = page
        self.backwards = backwards
        self.after = self.before = None
        if page.after is not None:
            self.after = statement.checked(decode_cursor, page.after, "after", datetime)
        if page.before is not None:
            self.before = statement.checked(decode_cursor, page.before, "before", datetime)
        self.page_size = size
        self._size: str | None = None
        self.page = statement.alias("p")
        natural = "DESC" if key.descending else "ASC"
        other = "ASC" if key.descending else "DESC"
        self.display = f"{self.page}._sort {natural}, {self.page}.id {natural}"
        self.display_reversed = f"{self.page}._sort {other}, {self.page}.id {other}"
        self.used = False  # whether an aggregate reads the page

    @property
    def size(self) -> str:
        """The page size's parameter (added when first used: PostgreSQL refuses a
        parameter the statement does not use)."""
        if self._size is None:
            self._size = self.statement.params.add(self.page_size, "int")
        return self._size

    def _scan(self, alias: str, columns: str, limit: str) -> str:
        params = self.statement.params
        sort = self.sort(alias)
        terms = list(self.conditions(alias))
        pair = f"({sort}, {alias}.id)"
        for cursor, before in ((self.after, False), (self.before, True)):
            if cursor is None:
                continue
            bound = f"({params.add(cursor[0], 'timestamptz')}, {params.add(cursor[1], 'uuid')})"
            smaller = self.key.descending != before
            terms.append(f"{pair} {'<' if smaller else '>'} {bound}")
        direction = "DESC" if self.key.descending != self.backwards else "ASC"
        order = f"{sort} {direction}, {alias}.id {direction}"
        where = " AND ".join(terms) if terms else "true"
        source = self.table.table if alias == self.table.table else f"{self.table.table} {alias}"
        return f"SELECT {columns} FROM {source} WHERE {where} ORDER BY {order} {limit}"

    def inner(self) -> str:
        """The page's rows (the table's own name as alias where no outer scan uses it)."""
        alias = self.statement.scan_alias(self.table.table)
        columns = f"{alias}.*, {self.sort(alias)} AS _sort"
        return self._scan(alias, columns, f"LIMIT {self.size}")

    def more(self) -> str:
        """Whether a row follows the page in scan order."""
        alias = self.statement.alias("m")
        return f"EXISTS ({self._scan(alias, '1', f'OFFSET {self.size}')})"

    def total(self) -> str:
        alias = self.statement.alias("c")
        terms = list(self.conditions(alias))
        where = " AND ".join(terms) if terms else "true"
        return f"(SELECT count(*) FROM {self.table.table} {alias} WHERE {where})"

    def aggregate(self, item: str) -> str:
        self.used = True
        return f"coalesce(json_agg({item} ORDER BY {self.display}), '[]'::json)"

    def node_json(self, details: FieldDetailsList) -> str:
        return self.statement.object_json(self.table, self.page, details)

    def cursor(self) -> str:
        return sql.timestamp_cursor(f"{self.page}._sort", f"{self.page}.id")

    def edge_json(self, edge_type: Any, details: FieldDetailsList) -> str:
        collected = self.statement.executor.collect_subfields(edge_type, details).grouped_field_set
        pairs = []
        for key, sub in collected.items():
            name = sub[0].node.name.value
            if name == "__typename":
                pairs.append((key, sql.text_literal(edge_type.name)))
            elif name == "cursor":
                pairs.append((key, self.cursor()))
            elif name == "node":
                pairs.append((key, self.node_json(sub)))
            else:
                raise Unsupported(name)
        return sql.json_object(pairs)

    def page_info(self, info_type: Any, details: FieldDetailsList) -> str:
        self.used = True
        after = "true" if self.args.after is not None else "false"
        before = "true" if self.args.before is not None else "false"
        values = {
            "hasNextPage": (lambda: before) if self.backwards else self.more,
            "hasPreviousPage": self.more if self.backwards else (lambda: after),
            "startCursor": lambda: self.edge_cursor(self.display),
            "endCursor": lambda: self.edge_cursor(self.display_reversed),
            "__typename": lambda: sql.text_literal(info_type.name),
        }
        collected = self.statement.executor.collect_subfields(info_type, details).grouped_field_set
        pairs = []
        for key, sub in collected.items():
            name = sub[0].node.name.value
            if name not in values:
                raise Unsupported(name)
            pairs.append((key, values[name]()))
        return sql.json_object(pairs)

    def edge_cursor(self, order: str) -> str:
        return f"(array_agg({self.cursor()} ORDER BY {order}))[1]"
