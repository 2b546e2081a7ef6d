"""Broadcasts: the coordinator's message to the group and/or every volunteer in private.

Nothing lost, nothing twice: the broadcast and one delivery row per recipient are written
in the transaction that confirms it, before anything is sent. A sender claims one row
(`claim_next`, committed on its own), sends, then records the outcome (`record_outcome`).
A row still "sending" when a new sender starts was interrupted between claim and outcome:
`recover_interrupted` marks it "unknown" (the copy may have arrived) instead of sending it
again; the coordinator sees it among the ones to try again, and chooses.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import people
from storage.models import Person
from storage.models.broadcast import Broadcast, BroadcastDelivery

AUDIENCES = ("group", "volunteers", "both")
# Delivery statuses.
PENDING, SENDING, SENT = "pending", "sending", "sent"
NOT_STARTED, BLOCKED, FAILED, UNKNOWN = "not_started", "blocked", "failed", "unknown"
FINAL = frozenset({SENT, NOT_STARTED, BLOCKED, FAILED, UNKNOWN})
RETRYABLE = frozenset({FAILED, UNKNOWN})
# How long `/broadcast` waits for the message to send.
COMPOSING_WAITS = timedelta(hours=2)


# Writing ------------------------------------------------------------------------------------


async def start_composing(
    session: AsyncSession, group_id: int, coordinator_id: int, now: datetime
) -> Broadcast:
    """A new broadcast waiting for its message; an unfinished earlier draft is dropped."""
    await session.execute(
        update(Broadcast)
        .where(
            Broadcast.group_id == group_id,
            Broadcast.created_by == coordinator_id,
            Broadcast.status.in_(("composing", "draft")),
        )
        .values(status="cancelled")
    )
    broadcast = Broadcast(
        group_id=group_id,
        created_by=coordinator_id,
        status="composing",
        important=False,
        paused_skipped=0,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    return broadcast


async def composing(
    session: AsyncSession, group_id: int, coordinator_id: int, now: datetime
) -> Broadcast | None:
    """The broadcast waiting for this coordinator's message, if any. After a while it stops
    waiting, so a message written the next day is not taken for a broadcast."""
    return await session.scalar(
        select(Broadcast)
        .where(
            Broadcast.group_id == group_id,
            Broadcast.created_by == coordinator_id,
            Broadcast.status == "composing",
            Broadcast.created_at > now - COMPOSING_WAITS,
        )
        .order_by(Broadcast.id.desc())
        .limit(1)
    )


async def get(session: AsyncSession, group_id: int, broadcast_id: int) -> Broadcast | None:
    broadcast = await session.get(Broadcast, broadcast_id)
    return broadcast if broadcast is not None and broadcast.group_id == group_id else None


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
        if person.telegram_user_id == broadcast.created_by:
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
    rows: list[BroadcastDelivery] = []
    if reaches_group(broadcast):
        rows.append(_delivery(broadcast, None, PENDING, now))
    found = await recipients(session, group_id, broadcast, now)
    rows += [_delivery(broadcast, p.id, PENDING, now) for p in found.reachable]
    rows += [_delivery(broadcast, p.id, NOT_STARTED, now) for p in found.not_started]
    rows += [_delivery(broadcast, p.id, BLOCKED, now) for p in found.blocked]
    session.add_all(rows)
    broadcast.paused_skipped = found.paused_skipped
    await session.flush()
    return True


def cancel(broadcast: Broadcast) -> bool:
    if broadcast.status not in ("composing", "draft"):
        return False
    broadcast.status = "cancelled"
    return True


def _delivery(
    broadcast: Broadcast, person_id: int | None, status: str, now: datetime
) -> BroadcastDelivery:
    return BroadcastDelivery(
        group_id=broadcast.group_id,
        broadcast_id=broadcast.id,
        person_id=person_id,
        status=status,
        attempts=0,
        updated_at=now,
    )


# Sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """One copy to send now. `chat_id` None means the group."""

    delivery_id: int
    chat_id: int | None
    person_id: int | None
    from_chat_id: int
    message_id: int


async def sending_broadcast_ids(session: AsyncSession, group_id: int) -> list[int]:
    rows = await session.scalars(
        select(Broadcast.id)
        .where(Broadcast.group_id == group_id, Broadcast.status == "sending")
        .order_by(Broadcast.id)
    )
    return list(rows)


async def recover_interrupted(session: AsyncSession, broadcast_id: int, now: datetime) -> int:
    """Rows left "sending" by a sender that stopped mid-send become "unknown". Call only
    when no sender for this broadcast is running."""
    result = await session.execute(
        update(BroadcastDelivery)
        .where(BroadcastDelivery.broadcast_id == broadcast_id, BroadcastDelivery.status == SENDING)
        .values(status=UNKNOWN, updated_at=now)
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


async def claim_next(session: AsyncSession, broadcast_id: int, now: datetime) -> Claim | None:
    """Take the next pending copy (the group's first). The caller commits before sending."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.status != "sending":
        return None
    while True:
        row = (
            await session.execute(
                select(BroadcastDelivery.id, BroadcastDelivery.person_id, Person.telegram_user_id)
                .outerjoin(Person, Person.id == BroadcastDelivery.person_id)
                .where(
                    BroadcastDelivery.broadcast_id == broadcast_id,
                    BroadcastDelivery.status == PENDING,
                )
                .order_by(BroadcastDelivery.person_id.is_not(None), BroadcastDelivery.id)
                .limit(1)
            )
        ).first()
        if row is None:
            return None
        delivery_id, person_id, telegram_id = row
        taken = await session.execute(
            update(BroadcastDelivery)
            .where(BroadcastDelivery.id == delivery_id, BroadcastDelivery.status == PENDING)
            .values(status=SENDING, attempts=BroadcastDelivery.attempts + 1, updated_at=now)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            assert broadcast.source_chat_id is not None
            assert broadcast.source_message_id is not None
            return Claim(
                delivery_id,
                telegram_id,
                person_id,
                broadcast.source_chat_id,
                broadcast.source_message_id,
            )


async def record_outcome(
    session: AsyncSession,
    delivery_id: int,
    status: str,
    now: datetime,
    *,
    message_id: int | None = None,
) -> None:
    """What happened to one copy; someone Telegram calls unreachable is remembered so."""
    if status not in FINAL and status != PENDING:
        raise ValueError(f"not an outcome: {status!r}")
    delivery = await session.get_one(BroadcastDelivery, delivery_id)
    delivery.status, delivery.updated_at = status, now
    if message_id is not None:
        delivery.message_id = message_id
    if delivery.person_id is not None and status in (NOT_STARTED, BLOCKED):
        await people.mark_unreachable(session, delivery.person_id, blocked=status == BLOCKED)


async def finish_if_done(session: AsyncSession, broadcast_id: int, now: datetime) -> bool:
    """Mark the broadcast done when no copy is waiting or on its way."""
    broadcast = await session.get_one(Broadcast, broadcast_id)
    open_rows = await session.scalar(
        select(func.count())
        .select_from(BroadcastDelivery)
        .where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.status.in_((PENDING, SENDING)),
        )
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
        update(BroadcastDelivery)
        .where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.status.in_(RETRYABLE),
        )
        .values(status=PENDING, updated_at=now)
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
    group: str | None  # the group copy's status, None when the group is not in the audience
    paused_skipped: int

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
    rows = await session.execute(
        select(BroadcastDelivery.person_id.is_(None), BroadcastDelivery.status, func.count())
        .where(BroadcastDelivery.broadcast_id == broadcast_id)
        .group_by(BroadcastDelivery.person_id.is_(None), BroadcastDelivery.status)
    )
    private: Counter[str] = Counter()
    group: str | None = None
    for is_group, status, count in rows:
        if is_group:
            group = status
        else:
            private[status] += count
    return Progress(
        sent=private[SENT],
        not_started=private[NOT_STARTED],
        blocked=private[BLOCKED],
        failed=private[FAILED] + private[UNKNOWN],
        waiting=private[PENDING] + private[SENDING],
        group=group,
        paused_skipped=broadcast.paused_skipped,
    )
