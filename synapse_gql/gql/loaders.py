"""Per-request dataloaders. Each batch opens its own short session, because sibling
fields resolve concurrently and one AsyncSession must never serve two tasks."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

BatchFn = Callable[[Sequence[Any]], Awaitable[list[Any]]]


class Loaders:
    """A request's loaders, created on first use and memoized by key."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._loaders: dict[Hashable, DataLoader] = {}

    def get(
        self, key: Hashable, batch: Callable[[Sequence[Any]], Awaitable[list[Any]]]
    ) -> DataLoader:
        """The loader registered under ``key``, built from ``batch`` the first time."""
        loader = self._loaders.get(key)
        if loader is None:
            loader = DataLoader(batch, max_batch_size=1000)
            self._loaders[key] = loader
        return loader

    async def rows(self, stmt: Select[Any]) -> list[Any]:
        async with self.sessions() as session:
            return list((await session.execute(stmt)).scalars().all())

    def by_id(self, model: type) -> DataLoader:
        """Rows of ``model`` by primary key (None for missing ids)."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[Any]:
            found = {row.id: row for row in await self.rows(select(model).where(model.id.in_(ids)))}
            return [found.get(i) for i in ids]

        return self.get(("by_id", model), batch)

    def children(
        self,
        model: type,
        parent: ColumnElement[Any],
        order_by: Sequence[ColumnElement[Any]] = (),
        name: str = "",
    ) -> DataLoader:
        """Lists of ``model`` rows grouped by the ``parent`` foreign key."""

        async def batch(keys: Sequence[Any]) -> list[list[Any]]:
            stmt = select(model).where(parent.in_(keys)).order_by(*order_by)
            grouped: dict[Any, list[Any]] = defaultdict(list)
            for row in await self.rows(stmt):
                grouped[getattr(row, parent.key)].append(row)
            return [grouped.get(k, []) for k in keys]

        return self.get(("children", model, parent.key, name), batch)
