"""Per-request dataloaders over the request's one read connection
(:mod:`synapse_gql.gql.read_connection`): sibling fields resolve concurrently and their
batches take turns on it."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Coroutine, Hashable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy import Executable, Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from synapse_gql.gql.pagination import ColumnExpr
from synapse_gql.gql.read_connection import ReadConnection

BatchFn = Callable[[list[Any]], Coroutine[Any, Any, list[Any]]]


class Loaders:
    """A request's loaders, created on first use and memoized by key."""

    def __init__(self, reads: ReadConnection) -> None:
        self.reads = reads
        self._loaders: dict[Hashable, DataLoader] = {}

    def get(self, key: Hashable, batch: BatchFn) -> DataLoader:
        """The loader registered under ``key``, built from ``batch`` the first time."""
        loader = self._loaders.get(key)
        if loader is None:
            loader = DataLoader(batch, max_batch_size=1000)
            self._loaders[key] = loader
        return loader

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """An ORM session over the request's connection, for reads."""
        return self.reads.session()

    async def rows(self, stmt: Select[Any]) -> list[Any]:
        """ORM entities (the first column) of ``stmt``."""

        async def read(session: AsyncSession) -> list[Any]:
            return list((await session.execute(stmt)).scalars().all())

        return await self.reads.in_session(read)

    async def fetch(self, stmt: Executable) -> Sequence[Row[Any]]:
        """Core rows of ``stmt`` over the request's connection."""

        async def read(connection: Any) -> Sequence[Row[Any]]:
            return (await connection.execute(stmt)).all()

        return await self.reads.run(read)

    def by_id(self, model: type[Any]) -> DataLoader:
        """Rows of ``model`` by primary key (None for missing ids)."""

        async def batch(ids: Sequence[uuid.UUID]) -> list[Any]:
            found = {row.id: row for row in await self.rows(select(model).where(model.id.in_(ids)))}
            return [found.get(i) for i in ids]

        return self.get(("by_id", model), batch)

    def children(
        self,
        model: type[Any],
        parent: InstrumentedAttribute[Any],
        order_by: Sequence[ColumnExpr] = (),
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
