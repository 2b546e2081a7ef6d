"""aiosqlite with one trip to its thread per statement instead of four.

aiosqlite runs every call on its connection's own thread (so a statement waiting up to
the busy timeout for another process's write lock never blocks the event loop) and hands
each result back through the loop. SQLAlchemy's asyncio adapter makes four such trips per
statement (make a cursor, execute, fetch the rows, close the cursor), plus one for a commit
and one for the pool's rollback when the connection goes back, even with no transaction
open. Each trip is a queue put, a thread wake-up and a wake-up of the event loop: on a
busy machine, about as much as the statement itself costs SQLite several times over.

Here a statement makes its cursor, runs, fetches every row and closes the cursor in one
trip, on the same thread as before, with the same `sqlite3` connection and settings; and a
commit or rollback with no transaction open (SQLite is in autocommit: reads outside a
write, the pool's reset after a commit) is skipped, as `sqlite3` itself would do nothing
then. Errors are the same `sqlite3` exceptions, raised from the same calls.

SQLAlchemy's server-side cursors (`stream()`, `yield_per`) would get every row at once
here; PeerBot uses none.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Sequence
from functools import partial
from typing import Any

import aiosqlite

# aiosqlite's default, for the rows of `fetchmany` without a size.
ARRAYSIZE = 1


class OneTripCursor:
    """The part of `aiosqlite.Cursor` SQLAlchemy uses; the `sqlite3` cursor lives only
    inside one trip to the connection's thread, its rows and counts are kept here."""

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = ARRAYSIZE

    # SQLAlchemy opens the cursor with `await cursor.__aenter__()`.
    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, OneTripCursor]:
        return self.__aenter__().__await__()

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        result = await self._connection._execute(_run, self._connection._conn, sql, parameters)
        self._take(result)
        return self

    async def executemany(self, sql: str, parameters: Any) -> OneTripCursor:
        result = await self._connection._execute(_run_many, self._connection._conn, sql, parameters)
        self._take(result)
        return self

    def _take(self, result: tuple[Any, list[Any], int, int | None]) -> None:
        self.description, self._rows, self.rowcount, self.lastrowid = result

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def close(self) -> None:
        self._rows = []  # the sqlite3 cursor was closed in its trip


def _run(
    connection: sqlite3.Connection, sql: str, parameters: Any
) -> tuple[Any, list[Any], int, int | None]:
    """On the connection's thread: the whole statement, its rows and counts."""
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(
    connection: sqlite3.Connection, sql: str, parameters: Sequence[Any]
) -> tuple[Any, list[Any], int, int | None]:
    cursor = connection.cursor()
    try:
        cursor.executemany(sql, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors make one trip per statement, and which skips
    the trip for a commit or rollback when no transaction is open."""

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    def _idle(self) -> bool:
        # sqlite3_get_autocommit(): read without a trip; SQLAlchemy runs nothing else on
        # this connection while it commits or rolls back.
        connection = self._connection
        return connection is not None and not connection.in_transaction

    async def commit(self) -> None:
        if not self._idle():
            await super().commit()

    async def rollback(self) -> None:
        if not self._idle():
            await super().rollback()


def connector(database: str, **kwargs: Any) -> Callable[[], OneTripConnection]:
    """SQLAlchemy's `async_creator`: a new connection with `sqlite3.connect`'s arguments
    (the ones SQLAlchemy derives from the URL). Its thread is a daemon, as SQLAlchemy
    makes aiosqlite's, so a connection never closed cannot keep the process alive."""

    def create() -> OneTripConnection:
        connection = OneTripConnection(partial(sqlite3.connect, database, **kwargs), 64)
        connection._thread.daemon = True
        return connection

    return create
