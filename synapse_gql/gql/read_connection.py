"""A request's one database connection for its reads.

Reads run in autocommit: no BEGIN/ROLLBACK around them, and every statement sees what is
committed when it runs (so the payload of a mutation, read after its transaction, sees the
mutation's rows). The connection is checked out on the first read, shared by all the
request's loader batches one statement at a time (they dispatch concurrently; an asyncpg
connection runs one statement at a time), and returned by :meth:`ReadConnection.release`
when the operation ends (:class:`ReleaseReadConnection`) and when the HTTP request ends
(the context's dependency in ``graphql_route``), whether or not an operation ran.

A connection that does not ``hold`` is checked out for each use and returned at once:
subscriptions and mutations read that way, so nothing holds a connection while waiting for
events, nor while waiting for a mutation's own transaction.

There is no pre-ping: a connection broken under the request (a database restart) is
invalidated by SQLAlchemy, and a read that failed on it is sent once more on a new one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

T = TypeVar("T")
# Operations whose reads check a connection out per use: a subscription waits for events,
# a mutation opens transactions of its own (holding a read connection meanwhile would take
# two of the pool's connections per request).
PER_USE = frozenset({OperationType.MUTATION, OperationType.SUBSCRIPTION})


class ReadConnection:
    """The reads of one operation over one autocommit connection, serialised by a lock."""

    def __init__(self, engine: AsyncEngine, *, hold: bool = True) -> None:
        self._engine = engine
        self.hold = hold
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self._connection: AsyncConnection | None = None

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncConnection]:
        """The connection, for this task alone until the block ends (re-entrant within a
        task: a task awaiting its own inner read leaves the connection idle meanwhile)."""
        task = asyncio.current_task()
        if task is not None and task is self._owner and self._connection is not None:
            yield self._connection
            return
        async with self._lock:
            self._owner = task
            try:
                if self._connection is None:
                    self._connection = await self._engine.connect()
                yield self._connection
            finally:
                self._owner = None
                connection = self._connection
                if connection is not None and (not self.hold or connection.invalidated):
                    await self._close()

    async def run(self, read: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``read`` over the connection; sent once more on a new connection when the
        connection was found broken (reads are idempotent)."""
        try:
            async with self.use() as connection:
                return await read(connection)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        async with self.use() as connection:
            return await read(connection)

    async def in_session(self, read: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """``read`` with an ORM session over the connection, sent once more like ``run``."""

        async def with_session(connection: AsyncConnection) -> T:
            async with AsyncSession(bind=connection, autoflush=False) as session:
                return await read(session)

        return await self.run(with_session)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session over the connection (no identity map shared between uses)."""
        async with self.use() as connection:
            session = AsyncSession(bind=connection, expire_on_commit=False, autoflush=False)
            try:
                yield session
            finally:
                await session.close()

    async def release(self) -> None:
        """Return the connection to the pool, if one is checked out; later reads check
        out another."""
        if self._connection is None and not self._lock.locked():
            return  # nothing checked out, and no read under way that could check one out
        async with self._lock:
            await self._close()

    def stop_holding(self) -> None:
        """Check out per use from now on (the connection held so far returns after its
        current use, or at ``release``)."""
        self.hold = False

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


class ReleaseReadConnection(SchemaExtension):
    """Returns the request's read connection when the operation ends and after each
    result of a stream; mutations and subscriptions read with a connection per use."""

    def _reads(self) -> ReadConnection | None:
        return getattr(self.execution_context.context, "reads", None)

    async def on_operation(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            reads = self._reads()
            if reads is not None:
                await reads.release()

    async def on_execute(self) -> AsyncIterator[None]:
        reads = self._reads()
        if reads is not None and self.execution_context.operation_type in PER_USE:
            reads.stop_holding()
            await reads.release()
        yield

    async def on_stream_result(self, result: Any) -> AsyncIterator[None]:
        reads = self._reads()
        if reads is not None:
            await reads.release()
        yield
