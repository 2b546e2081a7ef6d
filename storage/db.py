"""Engine, sessions and the one place transactions are opened and committed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # Every connection: WAL so readers never block the writer, foreign keys enforced,
    # and a wait instead of "database is locked" when the scheduler and an update meet.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine; for SQLite the folder is created and the pragmas set. Query
    parameters are kept out of error messages: they hold names and citizen labels, and
    errors are logged."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url, hide_parameters=True, async_creator=lambda: _connect_sqlite(engine)
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, hide_parameters=True)


def _connect_sqlite(engine: AsyncEngine) -> Any:
    """A connection that makes one trip to its thread per statement (storage/sqlite_driver),
    opened with the arguments SQLAlchemy takes from the URL."""
    args, kwargs = engine.dialect.create_connect_args(engine.url)
    return sqlite_driver.connector(*args, **kwargs)()


class Database:
    """Owns the engine; hands out one transaction at a time to whoever asks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit on success, roll back on error. Repositories never commit themselves."""
        async with self.sessions() as session, session.begin():
            yield session

    async def checkpoint(self) -> None:
        """SQLite: fold the write-ahead log into the database file and empty it, so what was
        just deleted leaves the disk now rather than at the next automatic checkpoint."""
        if self.engine.dialect.name != "sqlite":
            return
        async with self.engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def dispose(self) -> None:
        await self.engine.dispose()
