"""Which GraphQL fields have a SQL form, and what it is.

A *table type* is a GraphQL object type read from one table (``Workspace``,
``Conversation``, ``Message``, ``UsageLog``): its scalar fields are columns rendered as
the GraphQL layer serializes them, and its list fields are connections of another table
type under the parent's id. Everything is derived from the columns the resolver path
reads (``WORKSPACE_COLUMNS``, ``CONVERSATION_COLUMNS`` ...) and from the sort keys its
lists use, so a field has a SQL form only where the resolver reads a column as it is.
Fields whose value the resolver converts (``errorCode``) or loads (``workspace``,
``author`` ...) are absent: an operation selecting them runs its resolvers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from sqlalchemy import Column
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from synapse_gql.compiled import sql
from synapse_gql.compiled.sql import Params
from synapse_gql.conversations.loaders import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, MESSAGES
from synapse_gql.conversations.repository import ConversationOrder, sort_key
from synapse_gql.gql.pagination import ColumnExpr, SortKey
from synapse_gql.usage.queries import USAGE_COLUMNS, USAGE_KEY
from synapse_gql.workspaces.loaders import WORKSPACE_COLUMNS, WORKSPACE_ORDER

# Scalars whose JSON form PostgreSQL can write exactly; other scalars take the resolvers.
PLAIN_SCALARS = frozenset({"String", "Int", "Boolean", "BigInt"})
# Enums stored as their values and shown by name with no conversion in between.
PLAIN_ENUMS = frozenset(
    {
        "WorkspacePlan",
        "ConversationStatus",
        "MessageRole",
        "MessageStatus",
        "UsageStatus",
        "ApiKeySource",
    }
)


class Unsupported(Exception):
    """The request has no SQL form (or one of its arguments would fail): it runs its
    resolvers, which answer it (errors included) as always."""


@dataclass(frozen=True)
class Scalar:
    """A scalar field: ``render(alias)`` is its JSON value read off the row ``alias``."""

    render: Callable[[str], str]


@dataclass(frozen=True)
class ListField:
    """A connection of ``child`` rows whose ``parent_column`` is the parent's id.

    ``conditions(args, alias, params, viewer_id)`` gives the list's own filters (those
    of the resolver, authorization included) and ``sort(args)`` its ``SortKey`` and the
    SQL of its sort value; both raise ``Unsupported`` for arguments they do not handle.
    """

    child: str
    parent_column: str
    arguments: frozenset[str]
    conditions: Callable[[Mapping[str, Any], str, Params, Any], list[str]]
    sort: Callable[[Mapping[str, Any]], tuple[SortKey, Callable[[str], str]]]


@dataclass(frozen=True)
class TableType:
    """A GraphQL object type read from one table."""

    name: str
    table: str
    scalars: dict[str, Scalar] = field(default_factory=dict)
    lists: dict[str, ListField] = field(default_factory=dict)


def column_name(expr: ColumnExpr) -> str:
    """The table column behind a mapped attribute."""
    column = expr.expression if hasattr(expr, "expression") else expr
    assert isinstance(column, Column), expr
    return column.name


def _scalar(type_name: str, graphql_type: Any, column: str) -> Scalar | None:
    named = get_named_type(graphql_type)

    def at(alias: str) -> str:
        return f"{alias}.{column}"

    if column == "id":
        return Scalar(lambda alias: sql.global_id(type_name, at(alias)))
    if isinstance(named, GraphQLEnumType):
        if named.name not in PLAIN_ENUMS:
            return None
        names = sql.enum_names(named.values)
        return Scalar(lambda alias: sql.enum_name(at(alias), names))
    kinds: dict[str, Callable[[str], str]] = {
        "DateTime": lambda alias: sql.iso_timestamp(at(alias)),
        "Decimal": lambda alias: sql.plain_decimal(at(alias)),
        "JSON": at,
    }
    if named.name in kinds:
        return Scalar(kinds[named.name])
    return Scalar(at) if named.name in PLAIN_SCALARS else None


def _scalars(
    schema: GraphQLSchema, type_name: str, columns: Mapping[str, ColumnExpr]
) -> dict[str, Scalar]:
    """The basic fields of ``type_name`` that read a column of ``columns`` as it is."""
    object_type = schema.type_map[type_name]
    assert isinstance(object_type, GraphQLObjectType)
    found: dict[str, Scalar] = {}
    for name, graphql_field in object_type.fields.items():
        definition = (graphql_field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
            continue
        python_name = definition.python_name
        if python_name == "id" and "db_id" in columns:
            python_name = "db_id"
        if python_name not in columns:
            continue
        scalar = _scalar(type_name, graphql_field.type, column_name(columns[python_name]))
        if scalar is not None:
            found[name] = scalar
    return found


def _timestamp_key(key: SortKey) -> SortKey:
    # Cursors are decoded as timestamps and encoded with ``sql.timestamp_cursor``.
    assert key.column.type.python_type is datetime, key
    return key


def _column_sort(key: SortKey) -> Callable[[Mapping[str, Any]], tuple[SortKey, Callable]]:
    column = column_name(key.column)
    fixed = _timestamp_key(key)
    return lambda _args: (fixed, lambda alias: f"{alias}.{column}")


def _conversation_sort(args: Mapping[str, Any]) -> tuple[SortKey, Callable[[str], str]]:
    """``orderBy``: newest activity first (``coalesce(last_message_at, created_at)``, as
    ``conversations.repository.sort_key``) or newest created first."""
    order = args.get("orderBy")
    order = ConversationOrder(order) if isinstance(order, str) else order
    key = _timestamp_key(sort_key(order or ConversationOrder.LAST_ACTIVITY))
    if order is ConversationOrder.CREATED:
        return key, lambda alias: f"{alias}.created_at"
    return key, lambda alias: f"coalesce({alias}.last_message_at, {alias}.created_at)"


def _active_conversations(
    args: Mapping[str, Any], alias: str, params: Params, _viewer: Any
) -> list[str]:
    """The default filter (``ConversationFilter()``: active only); any filter given takes
    the resolvers."""
    from synapse_gql.conversations.queries import criteria
    from synapse_gql.conversations.repository import Criteria

    if args.get("filter") is not None:
        raise Unsupported("conversation filters")
    chosen = criteria(None)
    status = chosen.status
    if chosen != Criteria(status=status) or status is None:
        raise Unsupported("conversation filters")
    return [f"{alias}.status = {params.add(status.value, 'text')}"]


def _no_conditions(_args: Mapping[str, Any], _alias: str, _params: Params, _v: Any) -> list[str]:
    return []


def _usage_conditions(
    args: Mapping[str, Any], alias: str, params: Params, viewer_id: Any
) -> list[str]:
    """``since <= created_at < until`` (checked by the resolver's ``time_range``) and the
    viewer's usage visibility."""
    from synapse_gql.compiled.access import usage_readable
    from synapse_gql.models import UsageLog
    from synapse_gql.usage.filters import as_utc, time_range

    since, until = as_utc(args.get("since")), as_utc(args.get("until"))
    time_range(UsageLog.created_at, since, until)  # raises as the resolver would
    terms = [f"{alias}.workspace_id IN {usage_readable().render(params, viewer_id)}"]
    if since is not None:
        terms.append(f"{alias}.created_at >= {params.add(since, 'timestamptz')}")
    if until is not None:
        terms.append(f"{alias}.created_at < {params.add(until, 'timestamptz')}")
    return terms


PAGE_ARGUMENTS = frozenset({"first", "after", "last", "before"})


def _usage_list(parent_column: str) -> ListField:
    return ListField(
        "UsageLog",
        parent_column,
        PAGE_ARGUMENTS | {"since", "until"},
        _usage_conditions,
        _column_sort(USAGE_KEY),
    )


@cache
def registry(schema: GraphQLSchema) -> dict[str, TableType]:
    """The table types of ``schema``, by GraphQL type name."""
    conversations = ListField(
        "Conversation",
        "workspace_id",
        PAGE_ARGUMENTS | {"filter", "orderBy"},
        _active_conversations,
        _conversation_sort,
    )
    messages = ListField(
        "Message", "conversation_id", PAGE_ARGUMENTS, _no_conditions, _column_sort(MESSAGES.key)
    )
    types = [
        TableType(
            "Workspace",
            "workspaces",
            _scalars(schema, "Workspace", WORKSPACE_COLUMNS),
            {"conversations": conversations, "usageLogs": _usage_list("workspace_id")},
        ),
        TableType(
            "Conversation",
            "conversations",
            _scalars(schema, "Conversation", CONVERSATION_COLUMNS),
            {"messages": messages, "usageLogs": _usage_list("conversation_id")},
        ),
        TableType(
            "Message",
            "messages",
            _scalars(schema, "Message", MESSAGE_COLUMNS),
            {"usageLogs": _usage_list("message_id")},
        ),
        TableType("UsageLog", "usage_logs", _scalars(schema, "UsageLog", USAGE_COLUMNS)),
    ]
    return {table_type.name: table_type for table_type in types}


# The root list of workspaces: the viewer's, newest first (``WorkspaceLoader.page``).
WORKSPACES_SORT = _column_sort(WORKSPACE_ORDER)
