"""Room for a bulk write: a larger SQLite page cache while one statement touches tens of
thousands of rows (the first scheduling pass after a long stop, the daily retention).

SQLite's default cache is 2 MiB. Inserting 120,000 reminders and as many outbox items into
indexes of hundreds of thousands of rows with it writes the same index pages out again and
again (about five times slower, measured in bench/scale.py's data). The cache is raised only
around such statements and set back after them, so an ordinary pass, and the memory of a
bot that isn't catching up, stay as they were: pages beyond the usual size are let go as
soon as the transaction has written them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

BULK_ROWS = 5_000  # fewer rows than this: nothing to gain
BULK_CACHE_KIB = 65_536


@asynccontextmanager
async def roomy_cache(session: AsyncSession, rows: int) -> AsyncIterator[None]:
    """A 64 MiB page cache for the statements inside, when `rows` is large (SQLite only;
    PostgreSQL's buffers are the server's)."""
    if rows < BULK_ROWS or session.get_bind().dialect.name != "sqlite":
        yield
        return
    usual = int(await session.scalar(text("PRAGMA cache_size")) or -2000)
    before = text(f"PRAGMA cache_size = {usual}")
    await session.execute(text(f"PRAGMA cache_size = -{BULK_CACHE_KIB}"))
    try:
        yield
    except BaseException:
        with suppress(Exception):  # the error that got here is the one to report
            await session.execute(before)
        raise
    await session.execute(before)
