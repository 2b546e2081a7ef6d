"""Handling each Telegram update once, even when Telegram delivers it again.

PeerBot confirms an update to Telegram only after handling it (see `bot/app.py`), so a
crash never loses one: it is fetched again after the restart. If the crash came after the
update's transaction committed but before the confirmation reached Telegram, that second
delivery is recognised here and skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.updates import HandledUpdate

# Re-deliveries come within seconds of a restart; two days is plenty.
KEEP_FOR = timedelta(days=2)


async def handled_before(session: AsyncSession, update_id: int) -> bool:
    return await session.get(HandledUpdate, update_id) is not None


def record_handled(session: AsyncSession, update_id: int, now: datetime) -> None:
    """Mark the update handled, in the same transaction as what handling it changed."""
    session.add(HandledUpdate(update_id=update_id, handled_at=now))


async def forget_old(session: AsyncSession, now: datetime) -> int:
    """Drop the record of updates handled long ago; returns how many."""
    result = await session.execute(
        delete(HandledUpdate).where(HandledUpdate.handled_at < now - KEEP_FOR)
    )
    return result.rowcount or 0


async def forget_all(session: AsyncSession) -> None:
    """After a restore: the copied record says nothing about the updates to come."""
    await session.execute(delete(HandledUpdate))


# Telegram's update ids are positive; this row is only ever written by `probe`.
PROBE_ID = 0


async def probe(session: AsyncSession, now: datetime) -> None:
    """A real write, to tell "the database is unusable" from "this one update fails"."""
    row = await session.get(HandledUpdate, PROBE_ID)
    if row is None:
        session.add(HandledUpdate(update_id=PROBE_ID, handled_at=now))
    else:
        row.handled_at = now
    await session.flush()
