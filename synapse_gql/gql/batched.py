"""Connections nested under a list, batched: one SQL statement for the pages of every
parent asking in the same tick, however many parents the outer list has.

Two readers. ``child_connection`` returns ORM rows: the pages with ``row_number() OVER
(PARTITION BY parent)`` and the counts in a second statement. ``row_connection`` returns
Core rows of the selected columns only, each parent's page cut by ``LEFT JOIN LATERAL
(... ORDER BY ... LIMIT n + 1)`` (a plain ``LIMIT`` for a single parent) with its count in
the same statement when ``totalCount`` is selected.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    FromClause,
    Select,
    bindparam,
    func,
    literal,
    select,
    true,
)

from synapse_gql.context import Info
from synapse_gql.gql.pagination import (
    ColumnExpr,
    Connection,
    Page,
    PageArgs,
    SortKey,
    build_connection,
    cursor_conditions,
    cut_rows,
    finish_page,
    page_size,
    scan_order,
)

NodeT = TypeVar("NodeT")


@dataclass(frozen=True)
class ChildList:
    """Which rows form a parent's list: ``model`` rows whose ``parent`` equals the key,
    filtered by ``where``, sorted by ``key``. ``name`` must identify the filters."""

    name: Hashable
    model: type
    parent: ColumnExpr
    key: SortKey
    where: Sequence[ColumnElement[bool]] = field(default=())


async def _pages(info: Info, spec: ChildList, keys: Sequence[tuple[Any, PageArgs]]) -> list[Page]:
    settings = info.context.settings
    by_args: dict[PageArgs, list[Any]] = defaultdict(list)
    for parent_id, args in keys:
        by_args[args].append(parent_id)
    pages: dict[tuple[Any, PageArgs], Page] = {}
    for args, parent_ids in by_args.items():
        size, backwards = page_size(args, settings.default_page_size, settings.max_page_size)
        rows = await _scan(info, spec, parent_ids, args, size, backwards)
        for parent_id in parent_ids:
            pages[(parent_id, args)] = finish_page(rows.get(parent_id, []), size, backwards, args)
    return [pages[k] for k in keys]


async def _scan(
    info: Info, spec: ChildList, parent_ids: list[Any], args: PageArgs, size: int, backwards: bool
) -> dict[Any, list[Any]]:
    rank = func.row_number().over(
        partition_by=spec.parent, order_by=scan_order(spec.key, backwards)
    )
    inner = (
        select(
            spec.key.id_column.label("_id"),
            spec.parent.label("_parent"),
            spec.key.column.label("_sort"),
            rank.label("_rank"),
        )
        .where(spec.parent.in_(parent_ids), *spec.where, *cursor_conditions(spec.key, args))
        .subquery()
    )
    # Subscript, not attributes: ``inner.c._parent`` is the column collection's own parent.
    parent, rank_of, row_id = inner.c["_parent"], inner.c["_rank"], inner.c["_id"]
    stmt = (
        select(spec.model, parent, inner.c["_sort"], row_id)
        .join(inner, spec.key.id_column == row_id)
        .where(rank_of <= size + 1)
        .order_by(parent, rank_of)
    )
    grouped: dict[Any, list[Any]] = defaultdict(list)
    async with info.context.sessions() as session:
        for row in (await session.execute(stmt)).all():
            found = row._mapping
            grouped[found["_parent"]].append(
                (found[spec.model], found["_parent"], found["_sort"], found["_id"])
            )
    return grouped


async def _counts(info: Info, spec: ChildList, parent_ids: Sequence[Any]) -> list[int]:
    stmt = (
        select(spec.parent, func.count())
        .where(spec.parent.in_(parent_ids), *spec.where)
        .group_by(spec.parent)
    )
    async with info.context.sessions() as session:
        counts: dict[Any, int] = {row[0]: row[1] for row in await session.execute(stmt)}
    return [int(counts.get(p, 0)) for p in parent_ids]


async def child_connection(
    info: Info,
    spec: ChildList,
    parent_id: uuid.UUID,
    args: PageArgs,
    convert: Callable[[Any], NodeT],
) -> Connection[NodeT]:
    """The page of ``spec`` under ``parent_id``, batched with its siblings' pages."""
    loaders = info.context.loaders

    async def load_pages(keys: Sequence[tuple[Any, PageArgs]]) -> list[Page]:
        return await _pages(info, spec, keys)

    async def load_counts(parent_ids: Sequence[Any]) -> list[int]:
        return await _counts(info, spec, parent_ids)

    page = await loaders.get(("pages", spec.name), load_pages).load((parent_id, args))
    counts = loaders.get(("counts", spec.name), load_counts)

    async def count() -> int:
        return await counts.load(parent_id)

    return build_connection(page, convert, count)


@dataclass(frozen=True)
class RowList:
    """A parent's list read with SQLAlchemy Core: rows whose ``parent`` column equals the
    key, filtered by ``where``, sorted by ``key``. ``name`` must identify the filters."""

    name: Hashable
    columns: Mapping[str, ColumnExpr]
    parent: ColumnExpr
    key: SortKey
    where: Sequence[ColumnElement[bool]] = field(default=())


@dataclass(frozen=True)
class RowShape:
    """What a page statement returns: the ``names`` of ``RowList.columns`` (each labelled
    with its name) and, when ``total`` is set, the list's size in the same statement."""

    names: tuple[str, ...]
    total: bool


@dataclass
class RowPage:
    """A parent's page of Core rows and, when asked for, the size of its whole list."""

    page: Page
    total: int | None


def _page_query(
    spec: RowList, args: PageArgs, shape: RowShape, size: int, backwards: bool
) -> Select[Any]:
    """``SELECT <columns>, sort, id ... ORDER BY ... LIMIT size + 1`` (parent left open)."""
    return (
        select(
            *(spec.columns[name].label(name) for name in shape.names),
            spec.key.column.label("_sort"),
            spec.key.id_column.label("_id"),
        )
        .where(*spec.where, *cursor_conditions(spec.key, args))
        .order_by(*scan_order(spec.key, backwards))
        .limit(size + 1)
    )


def _counted(spec: RowList, parent: ColumnElement[Any]) -> Select[Any]:
    """``SELECT count(*) AS _total`` of the list under ``parent``."""
    return select(func.count().label("_total")).where(spec.parent == parent, *spec.where)


def _one_parent(
    spec: RowList, parent_id: Any, args: PageArgs, shape: RowShape, size: int, backwards: bool
) -> Select[Any]:
    """One parent: a plain ``LIMIT size + 1``; its count joined on, so an empty page still
    returns one row (with NULL columns) that carries the count."""
    parent = literal(parent_id, spec.parent.type)
    page = _page_query(spec, args, shape, size, backwards).where(spec.parent == parent)
    if not shape.total:
        return page.add_columns(parent.label("_parent"))
    inner = page.subquery("page")
    counted = _counted(spec, parent).subquery("counted")
    return (
        select(*inner.c, parent.label("_parent"), counted.c["_total"])
        .select_from(counted.outerjoin(inner, true()))
        .order_by(*_page_order(inner, spec.key, backwards))
    )


def _page_order(page: Any, key: SortKey, backwards: bool) -> list[ColumnElement[Any]]:
    """The scan order again, outside the subquery ``page`` (a join does not keep it)."""
    return scan_order(SortKey(page.c["_sort"], page.c["_id"], key.descending), backwards)


def _many_parents(
    spec: RowList,
    parent_ids: list[Any],
    args: PageArgs,
    shape: RowShape,
    size: int,
    backwards: bool,
) -> Select[Any]:
    """Many parents: ``unnest(parent ids) LEFT JOIN LATERAL (... LIMIT size + 1)``, and
    each parent's count from a lateral ``count(*)`` (counted once per parent, not per row)."""
    ids = bindparam("parent_ids", parent_ids, type_=ARRAY(spec.parent.type))
    parents = func.unnest(ids).table_valued("id", with_ordinality="n").render_derived("parents")
    parent = parents.c["id"]
    page = (
        _page_query(spec, args, shape, size, backwards).where(spec.parent == parent).lateral("page")
    )
    columns = [*page.c, parent.label("_parent")]
    source: FromClause = parents
    if shape.total:
        counted = _counted(spec, parent).lateral("counted")
        columns.append(counted.c["_total"])
        source = source.join(counted, true())
    return (
        select(*columns)
        .select_from(source.outerjoin(page, true()))
        .order_by(parents.c["n"], *_page_order(page, spec.key, backwards))
    )


async def _row_pages(
    info: Info, spec: RowList, keys: Sequence[tuple[Any, PageArgs, RowShape]]
) -> list[RowPage]:
    groups: dict[tuple[PageArgs, RowShape], list[Any]] = defaultdict(list)
    for parent_id, args, shape in keys:
        groups[(args, shape)].append(parent_id)
    pages: dict[tuple[Any, PageArgs, RowShape], RowPage] = {}
    for (args, shape), parent_ids in groups.items():
        for parent_id, page in zip(
            parent_ids, await _scan_rows(info, spec, parent_ids, args, shape), strict=True
        ):
            pages[(parent_id, args, shape)] = page
    return [pages[k] for k in keys]


async def _scan_rows(
    info: Info, spec: RowList, parent_ids: list[Any], args: PageArgs, shape: RowShape
) -> list[RowPage]:
    """One statement for the pages of ``parent_ids``. A row holds the ``shape.names``
    columns, then the sort value, the id, the parent and (``shape.total``) the count."""
    settings = info.context.settings
    size, backwards = page_size(args, settings.default_page_size, settings.max_page_size)
    if len(parent_ids) == 1:
        stmt = _one_parent(spec, parent_ids[0], args, shape, size, backwards)
    else:
        stmt = _many_parents(spec, parent_ids, args, shape, size, backwards)
    at = len(shape.names)  # where the sort value is; the id, parent and count follow
    grouped: dict[Any, list[Any]] = defaultdict(list)
    totals: dict[Any, int] = {}
    for row in await info.context.loaders.fetch(stmt):
        if shape.total:
            totals[row[at + 2]] = row[at + 3]
        if row[at + 1] is not None:
            grouped[row[at + 2]].append(row)
    return [
        RowPage(
            cut_rows(grouped.get(parent_id, []), size, backwards, args, sort_at=at),
            totals.get(parent_id, 0) if shape.total else None,
        )
        for parent_id in parent_ids
    ]


async def row_connection(
    info: Info,
    spec: RowList,
    parent_id: uuid.UUID,
    args: PageArgs,
    shape: RowShape,
    build: Callable[[Sequence[str], Sequence[Any]], NodeT],
) -> Connection[NodeT]:
    """The page of ``spec`` under ``parent_id``, each row turned into a node by
    ``build(shape.names, row)``: one statement for the pages (and counts) of every parent
    asking in the same tick."""

    async def load(keys: Sequence[tuple[Any, PageArgs, RowShape]]) -> list[RowPage]:
        return await _row_pages(info, spec, keys)

    loader = info.context.loaders.get(("row_pages", spec.name), load)
    found: RowPage = await loader.load((parent_id, args, shape))
    total = found.total

    async def count() -> int:
        if total is not None:
            return total
        return await _count_one(info, spec, parent_id)

    return build_connection(found.page, partial(build, shape.names), count)


async def _count_one(info: Info, spec: RowList, parent_id: Any) -> int:
    """The size of one parent's list, when ``totalCount`` was not seen in the selection."""

    async def load(parent_ids: Sequence[Any]) -> list[int]:
        stmt = (
            select(spec.parent, func.count())
            .where(spec.parent.in_(parent_ids), *spec.where)
            .group_by(spec.parent)
        )
        rows: Sequence[Any] = await info.context.loaders.fetch(stmt)
        counts: dict[Any, int] = dict(rows)
        return [int(counts.get(p, 0)) for p in parent_ids]

    return int(await info.context.loaders.get(("row_counts", spec.name), load).load(parent_id))
