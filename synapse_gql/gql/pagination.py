"""Cursor connections with keyset pagination in SQL.

Pages are cut with ``WHERE (sort, id) > cursor`` rather than OFFSET, so page N costs
the same as page 1 on millions of rows. ``totalCount`` runs only when selected.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeAlias, TypeVar

import strawberry
from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from synapse_gql.errors import InvalidInput

NodeT = TypeVar("NodeT")
# A Core column expression or a mapped attribute such as ``Message.created_at``.
ColumnExpr: TypeAlias = ColumnElement[Any] | QueryableAttribute[Any]


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type(description="An item of a connection with its cursor.")
class Edge(Generic[NodeT]):
    cursor: str
    node: NodeT

    @classmethod
    def of(cls, node: NodeT, sort_value: Any, row_id: uuid.UUID) -> Edge[NodeT]:
        """An edge whose cursor is encoded from ``(sort_value, row_id)`` only when read."""
        edge = object.__new__(cls)
        edge.__dict__.update(node=node, sort_key=(sort_value, row_id))
        return edge


class _LazyCursor:
    """``Edge.cursor`` of an edge made by ``Edge.of``: encoded on first read. A non-data
    descriptor, so a cursor passed to the constructor still wins."""

    def __get__(self, edge: Any, owner: type | None = None) -> Any:
        if edge is None:
            return self
        cursor = encode_cursor(*edge.sort_key)
        edge.__dict__["cursor"] = cursor
        return cursor


Edge.cursor = _LazyCursor()  # type: ignore[assignment]


@strawberry.type(description="A page of a list, with Relay cursors and the total count.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Number of items in the whole list, across all pages.")
    async def total_count(self) -> int:
        return await self.count_total()

    @strawberry.field(description="The page's nodes, without cursors.")
    def nodes(self) -> list[NodeT]:
        return [edge.node for edge in self.edges]


@dataclass(frozen=True)
class PageArgs:
    """``first/after/last/before`` as the client sent them."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None


@dataclass(frozen=True)
class SortKey:
    """A sort column (unique together with ``id``) and its direction."""

    column: ColumnExpr
    id_column: ColumnExpr
    descending: bool = True


@dataclass
class Page:
    """A cut page: its rows and each row's ``(sort value, id)``, the stuff of its cursor."""

    rows: list[Any]
    keys: list[tuple[Any, Any]]
    has_next: bool
    has_previous: bool


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        kind, raw = next(iter(value.items()))
        decoders: dict[str, Callable[[str], Any]] = {
            "t": datetime.fromisoformat,
            "d": Decimal,
            "u": uuid.UUID,
        }
        return decoders[kind](raw)
    return value


def encode_cursor(sort_value: Any, row_id: uuid.UUID) -> str:
    raw = json.dumps([_encode_value(sort_value), str(row_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str, field: str, sort_type: type | None = None) -> tuple[Any, uuid.UUID]:
    """The sort value and row id of ``cursor``; a cursor that is not one of ours, or whose
    value does not fit the sort column (``sort_type``), is ``INVALID_INPUT`` on ``field``
    rather than a failed statement."""
    try:
        sort_value, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        value, row = _decode_value(sort_value), uuid.UUID(str(row_id))
    except (binascii.Error, ValueError, TypeError, KeyError, StopIteration, ArithmeticError):
        value, row = _INVALID, None
    if row is None or not _fits(value, sort_type):
        raise InvalidInput(f"{cursor!r} is not a valid cursor.", field=field)
    return value, row


_INVALID = object()


def _fits(value: Any, sort_type: type | None) -> bool:
    """Whether the database can compare ``value`` with a column of ``sort_type``."""
    if value is _INVALID or isinstance(value, bool):
        return False
    if sort_type is None:
        return True
    if isinstance(value, Decimal):
        return sort_type is Decimal and value.is_finite()
    if isinstance(value, datetime) and value.tzinfo is not None:
        try:
            value.astimezone(UTC)  # what the driver does; beyond year 9999 it overflows
        except OverflowError:
            return False
    return isinstance(value, sort_type)


def _sort_type(key: SortKey) -> type | None:
    try:
        return key.column.type.python_type
    except NotImplementedError:
        return None


def page_size(args: PageArgs, default: int, maximum: int) -> tuple[int, bool]:
    """The requested size and whether it pages backwards; validates the arguments."""
    if args.first is not None and args.last is not None:
        raise InvalidInput("Pass either `first` or `last`, not both.", field="first")
    backwards = args.last is not None or (args.before is not None and args.first is None)
    size = args.last if backwards else args.first
    name = "last" if backwards else "first"
    if size is None:
        return min(default, maximum), backwards
    if size < 0 or size > maximum:
        raise InvalidInput(f"`{name}` must be between 0 and {maximum}.", field=name)
    return size, backwards


def cursor_conditions(key: SortKey, args: PageArgs) -> list[ColumnElement[bool]]:
    """``WHERE`` terms that start the page after ``after`` and end it before ``before``."""
    pair = tuple_(key.column, key.id_column)
    conditions = []
    sort_type = _sort_type(key)
    if args.after is not None:
        value = tuple_(*decode_cursor(args.after, "after", sort_type))
        conditions.append(pair < value if key.descending else pair > value)
    if args.before is not None:
        value = tuple_(*decode_cursor(args.before, "before", sort_type))
        conditions.append(pair > value if key.descending else pair < value)
    return conditions


def scan_order(key: SortKey, backwards: bool) -> list[ColumnElement[Any]]:
    """The SQL order: the sort order, reversed when paging backwards from the end."""
    if key.descending != backwards:
        return [key.column.desc(), key.id_column.desc()]
    return [key.column.asc(), key.id_column.asc()]


def finish_page(rows: list[Any], size: int, backwards: bool, args: PageArgs) -> Page:
    """Turn ``size + 1`` scanned rows ``(entity, ..., sort, id)`` into a page."""
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    keys = [(row[-2], row[-1]) for row in rows]
    entities = [row[0] for row in rows]
    return cut_page(entities, keys, more, backwards, args)


def cut_rows(
    rows: list[Any], size: int, backwards: bool, args: PageArgs, *, sort_at: int = -2
) -> Page:
    """Turn ``size + 1`` scanned Core rows into a page; each row holds its sort value at
    ``sort_at`` and its id right after (by default the last two columns)."""
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    keys = [(row[sort_at], row[sort_at + 1]) for row in rows]
    return cut_page(rows, keys, more, backwards, args)


def cut_page(
    rows: list[Any], keys: list[tuple[Any, Any]], more: bool, backwards: bool, args: PageArgs
) -> Page:
    """The page of ``rows`` (in display order); ``more``: a row beyond the page was scanned."""
    if backwards:
        return Page(rows, keys, has_next=args.before is not None, has_previous=more)
    return Page(rows, keys, has_next=more, has_previous=args.after is not None)


async def fetch_page(
    session: AsyncSession,
    stmt: Select[Any],
    key: SortKey,
    args: PageArgs,
    *,
    default_size: int,
    max_size: int,
) -> Page:
    """Run one keyset-paginated query for ``stmt`` (whose first entity is the row)."""
    size, backwards = page_size(args, default_size, max_size)
    stmt = stmt.where(*cursor_conditions(key, args)).order_by(*scan_order(key, backwards))
    rows = list((await session.execute(stmt.limit(size + 1))).all())
    return finish_page(rows, size, backwards, args)


async def fetch_rows_page(
    fetch: Callable[[Select[Any]], Awaitable[Sequence[Any]]],
    stmt: Select[Any],
    key: SortKey,
    args: PageArgs,
    *,
    default_size: int,
    max_size: int,
) -> Page:
    """One keyset page of the Core statement ``stmt`` run by ``fetch``; each row also
    carries its sort value and id as ``_sort`` and ``_id``."""
    size, backwards = page_size(args, default_size, max_size)
    stmt = (
        stmt.add_columns(key.column.label("_sort"), key.id_column.label("_id"))
        .where(*cursor_conditions(key, args))
        .order_by(*scan_order(key, backwards))
        .limit(size + 1)
    )
    return cut_rows(list(await fetch(stmt)), size, backwards, args)


def build_connection(
    page: Page, convert: Callable[[Any], NodeT], count: Callable[[], Awaitable[int]]
) -> Connection[NodeT]:
    """Wrap a fetched page in the GraphQL connection type (cursors encoded when read)."""
    edges = [Edge.of(convert(r), *k) for r, k in zip(page.rows, page.keys, strict=True)]
    info = PageInfo(
        has_next_page=page.has_next,
        has_previous_page=page.has_previous,
        start_cursor=encode_cursor(*page.keys[0]) if page.keys else None,
        end_cursor=encode_cursor(*page.keys[-1]) if page.keys else None,
    )
    return Connection(edges=edges, page_info=info, count_total=count)


def with_sort_columns(stmt: Select[Any], key: SortKey) -> Select[Any]:
    """Append the sort value and id as the last two result columns (for cursors)."""
    return stmt.add_columns(key.column, key.id_column)


def count_query(stmt: Select[Any]) -> Select[int]:
    """``SELECT count(*)`` over a filtered statement."""
    return select(func.count()).select_from(stmt.order_by(None).subquery())


async def paginate(
    sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    stmt: Select[Any],
    key: SortKey,
    args: PageArgs,
    convert: Callable[[Any], NodeT],
    *,
    default_size: int,
    max_size: int,
) -> Connection[NodeT]:
    """Fetch one page of ``stmt`` in its own session; count lazily in another."""

    async def count() -> int:
        async with sessions() as session:
            return int((await session.execute(count_query(stmt))).scalar_one())

    async with sessions() as session:
        page = await fetch_page(
            session,
            with_sort_columns(stmt, key),
            key,
            args,
            default_size=default_size,
            max_size=max_size,
        )
    return build_connection(page, convert, count)
