"""The armed reminders as the outbox sends them (each row one outbox item of kind
`REMINDER_KIND`, promised when armed: `core.promise_reminders`): still wanted, what they
say, Telegram's answer; and each volunteer's reminder preferences."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import people
from bot.domain.matches.core import (
    LIVE_STATUSES,
    PENDING,
    SENT,
    SKIPPED,
    arm_reminders,
    forget_promises,
)
from storage.models import (
    Match,
    MatchOccurrence,
    MatchVolunteer,
    Person,
    ReminderDelivery,
    ReminderPreference,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueReminder:
    """A reminder claimed for sending: everything the handler needs to write it."""

    delivery_id: int
    occurrence_id: int
    match_id: int
    lead: str
    person: Person
    kind: str
    label: str
    place: str | None
    starts_at: datetime
    co_volunteers: tuple[str, ...]


async def due_reminder(
    session: AsyncSession,
    group_id: int,
    delivery_id: int,
    person_id: int,
    now: datetime,
    grace: timedelta,
) -> DueReminder | None:
    """The outbox's "still wanted?" for one reminder row, and what it says. Not wanted (the
    row marked skipped, and logged by id): a cancelled meeting, an ended match, a volunteer
    who left it or the group, a meeting that has started, a reminder later than `grace`
    (also one a pause held: it was due before the pause ended); nor a row already sent or
    skipped (a second promise of it). A pause itself holds it (the sender's rule)."""
    delivery = await session.get(ReminderDelivery, delivery_id)
    if delivery is None or delivery.person_id != person_id or delivery.state != PENDING:
        return None
    occurrence = await session.get_one(MatchOccurrence, delivery.occurrence_id)
    match = await session.get_one(Match, occurrence.match_id)
    on_match = {
        p.id: p
        for p in await session.scalars(
            select(Person)
            .join(MatchVolunteer, MatchVolunteer.person_id == Person.id)
            .where(MatchVolunteer.match_id == match.id, MatchVolunteer.ended_at.is_(None))
            .order_by(MatchVolunteer.id)
        )
    }
    reason = None
    if match.ended_at is not None:
        reason = "ended"
    elif occurrence.status not in LIVE_STATUSES:
        reason = "cancelled"
    elif delivery.person_id not in on_match:
        reason = "not_on_match"
    elif not on_match[delivery.person_id].is_member:
        reason = "left_group"
    elif now >= occurrence.starts_at:
        reason = "passed"
    elif now - delivery.due_at > grace:
        reason = "too_late"
    if reason is not None:
        delivery.state, delivery.skipped_at, delivery.outcome = SKIPPED, now, reason
        log.info(
            "reminder %s (occurrence %s, person %s) skipped: %s",
            delivery.id,
            occurrence.id,
            delivery.person_id,
            reason,
        )
        return None
    delivery.sent_at = now
    person = on_match[delivery.person_id]
    # Who else comes (not those on a pause); most matches have one volunteer: no query.
    paused = await people.paused_person_ids(session, group_id, now) if len(on_match) > 1 else set()
    others = tuple(
        p.first_name for p in on_match.values() if p.id != person.id and p.id not in paused
    )
    return DueReminder(
        delivery_id=delivery.id,
        occurrence_id=occurrence.id,
        match_id=match.id,
        lead=delivery.lead,
        person=person,
        kind=match.kind,
        label=match.label,
        place=match.place,
        starts_at=occurrence.starts_at,
        co_volunteers=others,
    )


async def record_reminder_outcome(session: AsyncSession, delivery_id: int, outcome: str) -> None:
    """Telegram answered (sent, or refused for good): the reminder is done."""
    delivery = await session.get(ReminderDelivery, delivery_id)
    if delivery is not None:
        delivery.state, delivery.outcome = SENT, outcome


async def acknowledge(
    session: AsyncSession, group_id: int, delivery_id: int, person_id: int, now: datetime
) -> ReminderDelivery | None:
    """ "Jeg kommer": remembered on the reminder (only its own volunteer can tap it)."""
    delivery = await session.get(ReminderDelivery, delivery_id)
    if delivery is None or delivery.group_id != group_id or delivery.person_id != person_id:
        return None
    delivery.acknowledged_at = delivery.acknowledged_at or now
    return delivery


async def preference(session: AsyncSession, group_id: int, person_id: int) -> ReminderPreference:
    """Someone's lead times (the defaults until they change them)."""
    pref = await session.scalar(
        select(ReminderPreference).where(ReminderPreference.person_id == person_id)
    )
    if pref is None:
        pref = ReminderPreference(
            group_id=group_id,
            person_id=person_id,
            day_before=True,
            day_before_hour=18,
            hours_before=True,
            hours_before_count=2,
        )
        session.add(pref)
        await session.flush()
    return pref


async def update_preference(
    session: AsyncSession,
    group_id: int,
    person_id: int,
    now: datetime,
    tz: ZoneInfo,
    **changes: object,
) -> ReminderPreference:
    """Change lead times; reminders not yet sent are made again with the new times."""
    pref = await preference(session, group_id, person_id)
    for name, value in changes.items():
        setattr(pref, name, value)
    unsent = (
        ReminderDelivery.person_id == person_id,
        ReminderDelivery.state == PENDING,
        ReminderDelivery.due_at > now,
    )
    await forget_promises(session, select(ReminderDelivery.id).where(*unsent))
    await session.execute(delete(ReminderDelivery).where(*unsent))
    my_matches = select(MatchVolunteer.match_id).where(
        MatchVolunteer.person_id == person_id, MatchVolunteer.ended_at.is_(None)
    )
    await session.execute(
        update(MatchOccurrence)
        .where(MatchOccurrence.match_id.in_(my_matches), MatchOccurrence.starts_at > now)
        .values(armed=False)
    )
    await session.flush()
    await arm_reminders(session, group_id, now, tz)
    return pref
