"""Connections nested under a list, batched: one SQL statement for the pages of every
parent, one for their counts, however many parents the outer list has.

``workspaces { conversations(first: 10) { totalCount } }`` loads the first ten
conversations of each workspace with ``row_number() OVER (PARTITION BY workspace_id)``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, func, select

from synapse_gql.context import Info
from synapse_gql.gql.pagination import (
    Connection,
    Page,
    PageArgs,
    SortKey,
    build_connection,
    cursor_conditions,
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
    parent: ColumnElement[Any]
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
        counts = dict((await session.execute(stmt)).all())
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
