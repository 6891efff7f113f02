"""Count what an app sends to PostgreSQL: SQL statements (SQLAlchemy
``before_cursor_execute``), transaction statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT ...)
and pings as asyncpg sends them (its query logger, which sees the statements asyncpg sends
without preparing them), and connection checkouts from the pool."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

TRANSACTION_WORDS = ("BEGIN", "START", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "END")


class StatementLog:
    """What was sent while the ``counting`` block was open."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.transaction_statements: list[str] = []
        self.pings = 0
        self.checkouts = 0

    @property
    def count(self) -> int:
        """SQL statements (data, not transaction control)."""
        return len(self.statements)

    @property
    def round_trips(self) -> int:
        """Statements, transaction statements and pings: each waits for the server."""
        return self.count + len(self.transaction_statements) + self.pings

    def _sent_unprepared(self, record: Any) -> None:
        query = record.query.strip()
        if query.upper().startswith(TRANSACTION_WORDS):
            self.transaction_statements.append(query)
        elif query in ("", ";", "SELECT 1"):
            self.pings += 1


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[StatementLog]:
    """Record what ``engine`` sends inside the block (on connections checked out in it)."""
    log = StatementLog()
    watched: list[Any] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        log.statements.append(statement)

    def checkout(dbapi_connection: Any, *args: Any) -> None:
        log.checkouts += 1
        driver = dbapi_connection.driver_connection  # the asyncpg connection
        driver.add_query_logger(log._sent_unprepared)
        watched.append(driver)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    event.listen(engine.sync_engine.pool, "checkout", checkout)
    try:
        yield log
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        event.remove(engine.sync_engine.pool, "checkout", checkout)
        for driver in watched:
            driver.remove_query_logger(log._sent_unprepared)
