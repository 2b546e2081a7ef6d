"""Broadcasts: the coordinator's message to the group and/or every volunteer in private.

Nothing lost, nothing twice: the transaction that confirms a broadcast enqueues one outbox
item per recipient (kind "broadcast", the group's copy with no person), before anything is
sent; the one sender (`handlers/delivery.py`) claims, copies and records them. Broadcast
copies are at most once: a copy claimed by a process that stopped before Telegram answered
is recorded "unknown" (it may have arrived), never sent again by itself; the coordinator
sees it among the ones to try again (`requeue_failed`), and chooses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import outbox, people
from storage.models import Pause, Person
from storage.models.broadcast import Broadcast
from storage.models.outbox import CLAIMED, DONE, HELD, PENDING, OutboxItem

KIND = "broadcast"  # the outbox kind of a copy; its subject is the broadcast
AUDIENCES = ("group", "volunteers", "both")
# What became of a copy (the outbox's outcomes; "sending" while it is claimed).
SENDING, SENT = "sending", "sent"
NOT_STARTED, BLOCKED, FAILED, UNKNOWN = "not_started", "blocked", "failed", "unknown"
RETRYABLE = frozenset({FAILED, UNKNOWN})
OPEN = (PENDING, CLAIMED, HELD)
# How long `/broadcast` waits for the message to send.
COMPOSING_WAITS = timedelta(hours=2)


# Writing ------------------------------------------------------------------------------------


async def start_composing(
    session: AsyncSession, group_id: int, author_id: int, now: datetime
) -> Broadcast:
    """A new broadcast by this coordinator (their people row) waiting for its message; an
    unfinished earlier draft is dropped."""
    await session.execute(
        update(Broadcast)
        .where(
            Broadcast.group_id == group_id,
            Broadcast.author_id == author_id,
            Broadcast.status.in_(("composing", "draft")),
        )
        .values(status="cancelled")
    )
    broadcast = Broadcast(
        group_id=group_id,
        author_id=author_id,
        status="composing",
        important=False,
        paused_skipped=0,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def composing(
    session: AsyncSession, group_id: int, author_id: int, now: datetime
) -> Broadcast | None:
    """The broadcast waiting for this coordinator's message, if any. After a while it stops
    waiting, so a message written the next day is not taken for a broadcast."""
    return await session.scalar(
        select(Broadcast)
        .where(
            Broadcast.group_id == group_id,
            Broadcast.author_id == author_id,
            Broadcast.status == "composing",
            Broadcast.created_at > now - COMPOSING_WAITS,
        )
        .order_by(Broadcast.id.desc())
        .limit(1)
    )


async def get(session: AsyncSession, group_id: int, broadcast_id: int) -> Broadcast | None:
    broadcast = await session.get(Broadcast, broadcast_id)
    return broadcast if broadcast is not None and broadcast.group_id == group_id else None


async def author(session: AsyncSession, broadcast: Broadcast) -> Person | None:
    """The coordinator who wrote it (None once forgotten)."""
    return None if broadcast.author_id is None else await session.get(Person, broadcast.author_id)


def set_source(broadcast: Broadcast, chat_id: int, message_id: int) -> None:
    """The preview to copy from; the broadcast now waits for the coordinator's choices."""
    broadcast.source_chat_id, broadcast.source_message_id = chat_id, message_id
    broadcast.status = "draft"


def choose_audience(broadcast: Broadcast, audience: str) -> None:
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    broadcast.audience = audience


def reaches_volunteers(broadcast: Broadcast) -> bool:
    return broadcast.audience in ("volunteers", "both")


def reaches_group(broadcast: Broadcast) -> bool:
    return broadcast.audience in ("group", "both")


@dataclass(frozen=True)
class Recipients:
    reachable: list[Person]
    not_started: list[Person]
    blocked: list[Person]
    paused_skipped: int  # on a pause and the message is not important


async def recipients(
    session: AsyncSession, group_id: int, broadcast: Broadcast, now: datetime
) -> Recipients:
    """Who gets a private copy: members but the sender; on a pause only if important."""
    if not reaches_volunteers(broadcast):
        return Recipients([], [], [], 0)
    paused = await people.paused_person_ids(session, group_id, now)
    chosen: list[Person] = []
    skipped = 0
    for person in await people.members(session, group_id):
        if person.id == broadcast.author_id:
            continue
        if person.id in paused and not broadcast.important:
            skipped += 1
            continue
        chosen.append(person)
    return Recipients(
        reachable=[p for p in chosen if p.reachable],
        not_started=[p for p in chosen if not p.started_bot and not p.blocked_bot],
        blocked=[p for p in chosen if p.blocked_bot],
        paused_skipped=skipped,
    )


async def confirm(session: AsyncSession, group_id: int, broadcast_id: int, now: datetime) -> bool:
    """Write every delivery row and mark the broadcast as sending. False if it was not a
    complete draft any more (confirmed twice, cancelled)."""
    broadcast = await get(session, group_id, broadcast_id)
    if (
        broadcast is None
        or broadcast.status != "draft"
        or broadcast.audience is None
        or broadcast.source_message_id is None
    ):
        return False
    # The status changes first, conditionally: of two confirmations racing (a double tap
    # handled concurrently), only one writes deliveries.
    taken = await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == "draft")
        .values(status="sending", confirmed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        return False
    await session.refresh(broadcast)
    found = await recipients(session, group_id, broadcast, now)
    # The group's copy first (lowest id, same due time); who can't be reached is known at
    # once and counted, with nothing to send.
    copies: list[tuple[int | None, str | None]] = []
    if reaches_group(broadcast):
        copies.append((None, None))
    copies += [(p.id, None) for p in found.reachable]
    copies += [(p.id, NOT_STARTED) for p in found.not_started]
    copies += [(p.id, BLOCKED) for p in found.blocked]
    if copies:
        await session.execute(
            insert(OutboxItem),
            [
                {
                    "group_id": group_id,
                    "kind": KIND,
                    "subject_id": broadcast.id,
                    "person_id": person_id,
                    "due_at": now,
                    "state": PENDING if outcome is None else DONE,
                    "outcome": outcome,
                    "done_at": None if outcome is None else now,
                    "attempts": 0,
                }
                for person_id, outcome in copies
            ],
        )
    broadcast.paused_skipped = found.paused_skipped
    await session.flush()
    return True


async def forget_author(session: AsyncSession, person_id: int) -> None:
    """The author is being forgotten: their broadcasts stay (what the group was told) but
    lose where they were copied from, their private chat; `author_id` goes with the
    person (ON DELETE SET NULL). Copies not sent yet are no longer wanted."""
    await session.execute(
        update(Broadcast)
        .where(Broadcast.author_id == person_id)
        .values(source_chat_id=None, report_message_id=None)
    )


def cancel(broadcast: Broadcast) -> bool:
    if broadcast.status not in ("composing", "draft"):
        return False
    broadcast.status = "cancelled"
    return True


# Sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Copy:
    """One copy to send now. `chat_id` None means the group."""

    chat_id: int | None
    from_chat_id: int
    message_id: int


async def copy_for(
    session: AsyncSession, group_id: int, claim: outbox.Claim, now: datetime
) -> Copy | None:
    """What to copy for a claimed outbox item, or None when it is no longer wanted: the
    broadcast is gone or stopped, the person left, or she went on a pause since and the
    message is not important (she is counted among those on a pause)."""
    broadcast = await get(session, group_id, claim.subject_id)
    if (
        broadcast is None
        or broadcast.status != "sending"
        or broadcast.source_chat_id is None
        or broadcast.source_message_id is None
    ):
        return None
    chat_id = None
    if claim.person_id is not None:
        # One query per copy: a broadcast to hundreds asks this hundreds of times.
        paused = select(Pause.id).where(
            Pause.person_id == Person.id, people.active_pause_filter(now)
        )
        row = (
            await session.execute(
                select(Person.telegram_user_id, paused.exists()).where(
                    Person.id == claim.person_id,
                    Person.group_id == group_id,
                    Person.is_member.is_(True),
                )
            )
        ).first()
        if row is None:  # left the group (or forgotten)
            return None
        if row[1] and not broadcast.important:
            return None
        chat_id = row[0]
    return Copy(chat_id, broadcast.source_chat_id, broadcast.source_message_id)


def _copies(broadcast_id: int) -> list[ColumnElement[bool]]:
    return [OutboxItem.kind == KIND, OutboxItem.subject_id == broadcast_id]


async def sending_broadcast_ids(session: AsyncSession, group_id: int) -> list[int]:
    rows = await session.scalars(
        select(Broadcast.id)
        .where(Broadcast.group_id == group_id, Broadcast.status == "sending")
        .order_by(Broadcast.id)
    )
    return list(rows)


async def finish_if_done(session: AsyncSession, broadcast_id: int, now: datetime) -> bool:
    """Mark the broadcast done when no copy is waiting or on its way."""
    broadcast = await session.get_one(Broadcast, broadcast_id)
    open_rows = await session.scalar(
        select(func.count())
        .select_from(OutboxItem)
        .where(*_copies(broadcast_id), OutboxItem.state.in_(OPEN))
    )
    if open_rows:
        return False
    if broadcast.status == "sending":
        broadcast.status, broadcast.finished_at = "done", now
    return True


async def requeue_failed(
    session: AsyncSession, group_id: int, broadcast_id: int, now: datetime
) -> int:
    """Try the failed (and the unknown) copies again; returns how many."""
    broadcast = await get(session, group_id, broadcast_id)
    if broadcast is None or broadcast.status not in ("sending", "done"):
        return 0
    result = await session.execute(
        update(OutboxItem)
        .where(*_copies(broadcast_id), OutboxItem.state == DONE, OutboxItem.outcome.in_(RETRYABLE))
        .values(state=PENDING, outcome=None, done_at=None, claim_token=None)
    )
    count = result.rowcount or 0  # type: ignore[attr-defined]
    if count:
        broadcast.status, broadcast.finished_at = "sending", None
    return count


# The report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """Counts for the delivery report (private copies; the group separately)."""

    sent: int
    not_started: int
    blocked: int
    failed: int  # failed or unknown: can be tried again
    waiting: int  # pending or being sent
    group: str | None  # the group copy's outcome (or PENDING, SENDING), None without one
    paused_skipped: int
    left: int = 0  # left the group before their copy went out

    @property
    def total(self) -> int:
        return self.sent + self.not_started + self.blocked + self.failed + self.waiting

    @property
    def finished(self) -> bool:
        return self.waiting == 0 and self.group not in (PENDING, SENDING)

    @property
    def retryable(self) -> bool:
        return self.failed > 0 or self.group in RETRYABLE


async def progress(session: AsyncSession, broadcast_id: int) -> Progress:
    broadcast = await session.get_one(Broadcast, broadcast_id)
    # A copy not wanted any more was held back by a pause or by the person leaving: told
    # apart by membership now, so nobody who left is counted as being on a pause.
    gone = Person.is_member.is_not(True)
    rows = await session.execute(
        select(
            OutboxItem.person_id.is_(None), gone, OutboxItem.state, OutboxItem.outcome, func.count()
        )
        .outerjoin(Person, Person.id == OutboxItem.person_id)
        .where(*_copies(broadcast_id))
        .group_by(OutboxItem.person_id.is_(None), gone, OutboxItem.state, OutboxItem.outcome)
    )
    private: Counter[str] = Counter()
    group: str | None = None
    left = 0
    for is_group, has_left, state, outcome, count in rows:
        status = outcome if state == DONE else SENDING if state == CLAIMED else PENDING
        if is_group:
            group = status
        elif status == outbox.NOT_WANTED and has_left:
            left += count
        else:
            private[status] += count
    return Progress(
        sent=private[SENT],
        not_started=private[NOT_STARTED],
        blocked=private[BLOCKED],
        failed=private[FAILED] + private[UNKNOWN],
        waiting=private[PENDING] + private[SENDING],
        group=group,
        paused_skipped=broadcast.paused_skipped + private[outbox.NOT_WANTED],
        left=left,
    )
