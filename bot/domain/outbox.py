"""Everything the bot promises to send, as rows: enqueue, claim, record, hold and wake.

A feature's domain function enqueues inside its own transaction (so the promise commits
with the change that made it); the one sender in `handlers/delivery.py` claims what is due,
asks the feature whether it is still wanted, renders and sends it, and records Telegram's
answer. Delivery is at least once: a claim whose process is gone (killed between claim and
answer) is claimed again after a restart, while the feature still wants it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models.outbox import CLAIMED, DONE, HELD, PENDING, OutboxItem

SENT = "sent"
NOT_WANTED = "not_wanted"


@dataclass(frozen=True)
class Claim:
    """One item to send now; `retried` when an earlier process claimed it and died."""

    item_id: int
    kind: str
    subject_id: int
    person_id: int | None  # None: to the group
    due_at: datetime
    retried: bool


async def enqueue(
    session: AsyncSession,
    group_id: int,
    kind: str,
    subject_id: int,
    person_id: int | None,
    due_at: datetime,
) -> None:
    """Promise a message (`person_id` None: to the group); the same promise to a person
    twice is kept once (a group promise is made once by its feature's transaction)."""
    values = {
        "group_id": group_id,
        "kind": kind,
        "subject_id": subject_id,
        "person_id": person_id,
        "due_at": due_at,
        "state": PENDING,
        "attempts": 0,
    }
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert(OutboxItem).values(**values).on_conflict_do_nothing())


async def claim_next(
    session: AsyncSession,
    group_id: int,
    now: datetime,
    token: str,
    kinds: frozenset[str] | None = None,
) -> Claim | None:
    """The oldest due item, claimed for this process (commit before sending): first one
    claimed by a process that is gone (another token; one instance runs at a time), then
    the oldest pending. Two queries, each along the (group, state, due) index: with one OR
    across both states every claim scanned and sorted the whole table (80,000 reminders)."""

    def oldest(state: str) -> Select[tuple[OutboxItem]]:
        query = (
            select(OutboxItem)
            .where(
                OutboxItem.group_id == group_id,
                OutboxItem.state == state,
                OutboxItem.due_at <= now,
            )
            .order_by(OutboxItem.due_at, OutboxItem.id)
            .limit(1)
            .execution_options(populate_existing=True)
        )
        return query if kinds is None else query.where(OutboxItem.kind.in_(kinds))

    left = oldest(CLAIMED).where(OutboxItem.claim_token != token)
    item = await session.scalar(left) or await session.scalar(oldest(PENDING))
    if item is None:
        return None
    retried = item.state == CLAIMED
    # Compare and set: of two claimers reading the same row, only one gets it.
    taken = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.id == item.id,
            OutboxItem.state == item.state,
            OutboxItem.attempts == item.attempts,
        )
        .values(state=CLAIMED, claim_token=token, claimed_at=now, attempts=item.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        return None
    return Claim(item.id, item.kind, item.subject_id, item.person_id, item.due_at, retried)


async def record(session: AsyncSession, item_id: int, outcome: str, now: datetime) -> None:
    """Telegram's answer (or "not_wanted"): the promise is kept or let go, once."""
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id)
        .values(state=DONE, outcome=outcome, done_at=now, claim_token=None)
    )


async def hold(session: AsyncSession, item_id: int) -> None:
    """Kept back while its person is on a pause (or can't be reached yet)."""
    await session.execute(
        update(OutboxItem).where(OutboxItem.id == item_id).values(state=HELD, claim_token=None)
    )


async def wake(
    session: AsyncSession, person_id: int, now: datetime, kinds: Collection[str] | None = None
) -> int:
    """The pause ended (or the person started the bot): their held items (of `kinds`, or
    all) are due again; each feature's "still wanted?" check drops what has passed. Returns
    how many."""
    query = update(OutboxItem).where(OutboxItem.person_id == person_id, OutboxItem.state == HELD)
    if kinds is not None:
        query = query.where(OutboxItem.kind.in_(list(kinds)))
    result = await session.execute(query.values(state=PENDING, due_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def outcomes(session: AsyncSession, kind: str, subject_id: int) -> list[str | None]:
    """The outcome of each item of `kind` about `subject_id` (None: not done yet)."""
    rows = await session.scalars(
        select(OutboxItem.outcome).where(
            OutboxItem.kind == kind, OutboxItem.subject_id == subject_id
        )
    )
    return list(rows)
