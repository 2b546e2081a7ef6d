"""Handling each Telegram update once, even when Telegram delivers it again.

PeerBot confirms an update to Telegram only after handling it (see `bot/app.py`), so a
crash never loses one: it is fetched again after the restart. If the crash came after the
update's transaction committed but before the confirmation reached Telegram, that second
delivery is recognised here and skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.updates import HandledUpdate

# Re-deliveries come within seconds of a restart; two days is plenty.
KEEP_FOR = timedelta(days=2)


async def handled_before(session: AsyncSession, update_id: int) -> bool:
    return await session.get(HandledUpdate, update_id) is not None


async def highest_handled(session: AsyncSession) -> int:
    """The newest update id in the record (0 when empty). Telegram numbers updates in
    increasing order, so a higher id can only be new (see `UpdateLedger`)."""
    return await session.scalar(select(func.coalesce(func.max(HandledUpdate.update_id), 0))) or 0


class UpdateLedger:
    """Which updates need the record looked up before they are handled: only an id at or
    below the highest one known handled. Telegram's ids increase, so above that mark an
    update is new unless it is a re-delivery of one this process handled (which raised the
    mark) or of one the previous process committed (below the mark read at the start).
    Saves a statement on nearly every update; the record is still written for each."""

    def __init__(self) -> None:
        self.mark: int | None = None  # read from the record with the first update

    async def seen_before(self, session: AsyncSession, update_id: int, *, retry: bool) -> bool:
        if self.mark is None:
            self.mark = await highest_handled(session)
        if update_id > self.mark and not retry:
            return False
        # A retry looks too: its first try may have raced another writer of the same id.
        return await handled_before(session, update_id)

    def committed(self, update_id: int) -> None:
        """The update's transaction (with its record) committed."""
        if self.mark is not None:
            self.mark = max(self.mark, update_id)


# Built once: a plain INSERT costs less than an ORM object through the session's flush,
# and this runs for every update.
_RECORD = insert(HandledUpdate)


async def record_handled(session: AsyncSession, update_id: int, now: datetime) -> None:
    """Mark the update handled, in the same transaction as what handling it changed."""
    await session.execute(_RECORD, {"update_id": update_id, "handled_at": now})


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
