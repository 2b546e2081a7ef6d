"""Sending the armed reminders exactly once, and each volunteer's reminder preferences."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import people
from bot.domain.matches.core import (
    DUE_STATES,
    LIVE_STATUSES,
    PENDING,
    SENDING,
    SENT,
    SKIPPED,
    _chunks,
    arm_reminders,
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


async def claim_due_reminders(
    session: AsyncSession,
    group_id: int,
    now: datetime,
    grace: timedelta,
    *,
    limit: int | None = None,
) -> list[DueReminder]:
    """Claim the reminders due by `now`, oldest first, at most `limit`: marked as in flight
    in this transaction, and sent once the caller records Telegram's answer. One a crash
    left in flight is claimed again: a missed reminder can cost a citizen a meeting, a
    repeated one costs a second look (at-least-once). Skipped, and logged by id: reminders
    for cancelled meetings, ended matches, volunteers who left it, left the group or are
    paused, meetings that have started, and reminders later than `grace`."""
    rows = (
        await session.execute(
            select(ReminderDelivery, MatchOccurrence, Match)
            .join(MatchOccurrence, MatchOccurrence.id == ReminderDelivery.occurrence_id)
            .join(Match, Match.id == MatchOccurrence.match_id)
            .where(
                ReminderDelivery.group_id == group_id,
                ReminderDelivery.state.in_(DUE_STATES),
                ReminderDelivery.due_at <= now,
            )
            .order_by(ReminderDelivery.due_at, ReminderDelivery.id)
            .limit(limit)
        )
    ).all()
    if not rows:
        return []
    match_ids = list({m.id for _, _, m in rows})
    active: dict[int, list[Person]] = defaultdict(list)
    for chunk in _chunks(match_ids):
        for match_id, person in await session.execute(
            select(MatchVolunteer.match_id, Person)
            .join(Person, Person.id == MatchVolunteer.person_id)
            .where(MatchVolunteer.match_id.in_(chunk), MatchVolunteer.ended_at.is_(None))
            .order_by(MatchVolunteer.id)
        ):
            active[match_id].append(person)
    paused = await people.paused_person_ids(session, group_id, now)
    claimed: list[DueReminder] = []
    for delivery, occurrence, match in rows:
        on_match = {p.id: p for p in active.get(match.id, [])}
        reason = None
        if match.ended_at is not None:
            reason = "ended"
        elif occurrence.status not in LIVE_STATUSES:
            reason = "cancelled"
        elif delivery.person_id not in on_match:
            reason = "not_on_match"
        elif not on_match[delivery.person_id].is_member:
            reason = "left_group"
        elif delivery.person_id in paused:
            reason = "paused"
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
            continue
        if delivery.state == SENDING:
            log.info("reminder %s was cut off by a stop; sending it again", delivery.id)
        delivery.state, delivery.sent_at = SENDING, now
        person = on_match[delivery.person_id]
        others = tuple(
            p.first_name for p in on_match.values() if p.id != person.id and p.id not in paused
        )
        claimed.append(
            DueReminder(
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
        )
    return claimed


async def any_due_reminder(session: AsyncSession, group_id: int, now: datetime) -> bool:
    found = await session.scalar(
        select(ReminderDelivery.id)
        .where(
            ReminderDelivery.group_id == group_id,
            ReminderDelivery.state.in_(DUE_STATES),
            ReminderDelivery.due_at <= now,
        )
        .limit(1)
    )
    return found is not None


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
    await session.execute(
        delete(ReminderDelivery).where(
            ReminderDelivery.person_id == person_id,
            ReminderDelivery.state == PENDING,
            ReminderDelivery.due_at > now,
        )
    )
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
