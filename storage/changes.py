"""Conditional updates: the one way to claim a row or move it from one state to the next.

`UPDATE ... SET ... WHERE <the state the caller saw>` changes a row only if nobody changed
it in between, and the count says whether this caller won: two passes or two taps racing
each other can never both see 1. Reading first and writing after would let both win.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.base import Base


async def changed(
    session: AsyncSession,
    model: type[Base],
    *where: ColumnElement[bool],
    values: Mapping[str, Any],
    sync_session: bool = True,
) -> int:
    """Set `values` on the rows of `model` that match every condition of `where`; how
    many rows changed (1 where a claim of one row succeeded, 0 where someone was first).

    `sync_session=False` leaves the objects already loaded in the session as they were,
    for conditions SQLAlchemy can't evaluate in Python (e.g. comparing loaded times)."""
    if not where:
        raise ValueError("a conditional update needs a condition")
    statement = update(model).where(*where).values(**values)
    if not sync_session:
        statement = statement.execution_options(synchronize_session=False)
    result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
