"""A volunteer's own meetings: upcoming ones, cancelling, moving, changing the rhythm."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import people
from bot.domain.matches.core import (
    CANCELLED,
    MOVED,
    PENDING,
    SKIPPED,
    MatchError,
    Plan,
    arm_reminders,
    check_within_reach,
    forget_promises,
    plan_occurrences,
)
from bot.domain.schedule import (
    BIWEEKLY,
    WEEKLY,
    local_to_utc,
    local_today,
)
from storage.models import (
    Match,
    MatchOccurrence,
    MatchVolunteer,
    Person,
    ReminderDelivery,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Meeting:
    occurrence: MatchOccurrence
    match: Match


async def upcoming_for_person(
    session: AsyncSession, group_id: int, person_id: int, now: datetime, *, limit: int = 8
) -> list[Meeting]:
    """Someone's next meetings (cancelled ones too, so they can see what changed)."""
    rows = await session.execute(
        select(MatchOccurrence, Match)
        .join(Match, Match.id == MatchOccurrence.match_id)
        .join(MatchVolunteer, MatchVolunteer.match_id == Match.id)
        .where(
            Match.group_id == group_id,
            Match.ended_at.is_(None),
            MatchVolunteer.person_id == person_id,
            MatchVolunteer.ended_at.is_(None),
            MatchOccurrence.starts_at > now,
        )
        .order_by(MatchOccurrence.starts_at)
        .limit(limit)
    )
    return [Meeting(o, m) for o, m in rows]


async def active_volunteers_of(session: AsyncSession, match_id: int) -> list[Person]:
    rows = await session.scalars(
        select(Person)
        .join(MatchVolunteer, MatchVolunteer.person_id == Person.id)
        .where(MatchVolunteer.match_id == match_id, MatchVolunteer.ended_at.is_(None))
        .order_by(MatchVolunteer.id)
    )
    return list(dict.fromkeys(rows))


@dataclass(frozen=True)
class Change:
    """A change to a meeting or a match: who else should be told."""

    match: Match
    occurrence: MatchOccurrence | None
    others: list[Person] = field(default_factory=list)


async def own_occurrence(
    session: AsyncSession,
    group_id: int,
    occurrence_id: int,
    person_id: int | None,
    now: datetime | None = None,
) -> tuple[MatchOccurrence, Match, list[Person]]:
    """A meeting of one of the person's matches, and the match's other volunteers; with
    `now`, only those to tell about a change to it (not those on a pause)."""
    occurrence = await session.get(MatchOccurrence, occurrence_id)
    if occurrence is None or occurrence.group_id != group_id:
        raise MatchError("not_found")
    match = await session.get_one(Match, occurrence.match_id)
    if match.ended_at is not None:
        raise MatchError("ended")
    volunteers = await active_volunteers_of(session, match.id)
    if person_id is not None and person_id not in {p.id for p in volunteers}:
        raise MatchError("not_yours")
    others = [p for p in volunteers if p.id != person_id]
    if now is not None:
        others = await not_paused(session, group_id, others, now)
    return occurrence, match, others


async def not_paused(
    session: AsyncSession, group_id: int, volunteers: list[Person], now: datetime
) -> list[Person]:
    """Pause means quiet: a change to a match's meetings is not told to someone on a pause.
    Nothing is kept for later: when the pause ends, the reminders show the meetings as
    they are then."""
    paused = await people.paused_person_ids(session, group_id, now)
    return [p for p in volunteers if p.id not in paused]


async def changeable_occurrence(
    session: AsyncSession,
    group_id: int,
    occurrence_id: int,
    person_id: int | None,
    now: datetime | None = None,
) -> tuple[MatchOccurrence, Match, list[Person]]:
    """A meeting this person may move: one of their own, of a match. An activity's meetings
    are everyone's, so only the coordinator (`person_id` None) moves them. With `now`, the
    others are only those to tell (see `own_occurrence`)."""
    occurrence, match, others = await own_occurrence(
        session, group_id, occurrence_id, person_id, now
    )
    if person_id is not None and match.kind != "match":
        raise MatchError("shared")
    return occurrence, match, others


async def changeable_match(
    session: AsyncSession, group_id: int, match_id: int, person_id: int | None
) -> Match:
    """A running match whose rhythm this person may change (see `changeable_occurrence`)."""
    match = await session.get(Match, match_id)
    if match is None or match.group_id != group_id:
        raise MatchError("not_found")
    if match.ended_at is not None:
        raise MatchError("ended")
    if person_id is not None:
        volunteers = await active_volunteers_of(session, match.id)
        if person_id not in {p.id for p in volunteers}:
            raise MatchError("not_yours")
        if match.kind != "match":
            raise MatchError("shared")
    return match


async def skip_for_person(
    session: AsyncSession, occurrence_id: int, person_id: int, now: datetime
) -> None:
    """One volunteer can't come to an activity's meeting: their reminders for it stop."""
    await session.execute(
        update(ReminderDelivery)
        .where(
            ReminderDelivery.occurrence_id == occurrence_id,
            ReminderDelivery.person_id == person_id,
            ReminderDelivery.state == PENDING,
        )
        .values(state=SKIPPED, skipped_at=now, outcome="not_coming")
    )


async def cancel_occurrence(
    session: AsyncSession,
    group_id: int,
    occurrence_id: int,
    person_id: int | None,
    now: datetime,
    *,
    citizen_informed: bool | None = None,
) -> Change:
    """ "Not this time": the meeting is cancelled and no reminder goes out for it."""
    occurrence, match, others = await own_occurrence(
        session, group_id, occurrence_id, person_id, now
    )
    if occurrence.starts_at <= now:
        raise MatchError("passed")
    if occurrence.status == CANCELLED:
        raise MatchError("already_cancelled")
    occurrence.status, occurrence.changed_at, occurrence.changed_by = CANCELLED, now, person_id
    occurrence.citizen_informed = citizen_informed
    await session.execute(
        update(ReminderDelivery)
        .where(ReminderDelivery.occurrence_id == occurrence.id, ReminderDelivery.state == PENDING)
        .values(state=SKIPPED, skipped_at=now, outcome="cancelled")
    )
    return Change(match, occurrence, others)


async def move_occurrence(
    session: AsyncSession,
    group_id: int,
    occurrence_id: int,
    person_id: int | None,
    new_date: date,
    new_time: time,
    now: datetime,
    tz: ZoneInfo,
) -> Change:
    """One meeting at another date and time; its reminders follow it."""
    occurrence, match, others = await changeable_occurrence(
        session, group_id, occurrence_id, person_id, now
    )
    if occurrence.starts_at <= now:
        raise MatchError("passed")
    # The day first: a year like 1 or 9999 has no UTC moment to compare.
    if new_date < local_today(now, tz):
        raise MatchError("date_in_past")
    check_within_reach([new_date], local_today(now, tz))
    starts_at = local_to_utc(new_date, new_time, tz)
    if starts_at <= now:
        raise MatchError("date_in_past")
    occurrence.local_date, occurrence.local_time, occurrence.starts_at = (
        new_date,
        new_time,
        starts_at,
    )
    occurrence.status, occurrence.changed_at, occurrence.changed_by = MOVED, now, person_id
    occurrence.armed = False
    await forget_promises(
        session,
        select(ReminderDelivery.id).where(ReminderDelivery.occurrence_id == occurrence.id),
    )
    await session.execute(
        delete(ReminderDelivery).where(ReminderDelivery.occurrence_id == occurrence.id)
    )
    await session.flush()
    await arm_reminders(session, group_id, now, tz)
    return Change(match, occurrence, others)


async def change_rhythm(
    session: AsyncSession,
    group_id: int,
    match_id: int,
    person_id: int | None,
    plan: Plan,
    now: datetime,
    tz: ZoneInfo,
) -> Change:
    """A new weekday, time or rhythm from tomorrow on; meetings already changed by hand
    after that are replaced by the new rhythm."""
    match = await changeable_match(session, group_id, match_id, person_id)
    if plan.rhythm not in (WEEKLY, BIWEEKLY) or plan.weekday is None or plan.at is None:
        raise MatchError("rhythm_incomplete")
    start = max(local_today(now, tz) + timedelta(days=1), plan.start or date.min)
    await session.execute(
        delete(MatchOccurrence).where(
            MatchOccurrence.match_id == match.id,
            MatchOccurrence.scheduled_date >= start,
            MatchOccurrence.starts_at > now,
        )
    )
    # Meetings of the old rhythm between now and tomorrow stay as they are.
    match.rhythm, match.weekday, match.local_time = plan.rhythm, plan.weekday, plan.at
    match.start_date, match.planned_until = start, start - timedelta(days=1)
    await session.flush()
    await plan_occurrences(session, group_id, now, tz, match_ids=[match.id])
    await arm_reminders(session, group_id, now, tz)
    volunteers = await active_volunteers_of(session, match.id)
    others = [p for p in volunteers if p.id != person_id]
    return Change(match, None, await not_paused(session, group_id, others, now))


async def set_citizen_informed(
    session: AsyncSession, group_id: int, occurrence_id: int, informed: bool
) -> None:
    occurrence = await session.get(MatchOccurrence, occurrence_id)
    if occurrence is not None and occurrence.group_id == group_id:
        occurrence.citizen_informed = informed


async def next_occurrences(
    session: AsyncSession, match_id: int, now: datetime, *, limit: int = 3
) -> list[MatchOccurrence]:
    rows = await session.scalars(
        select(MatchOccurrence)
        .where(MatchOccurrence.match_id == match_id, MatchOccurrence.starts_at > now)
        .order_by(MatchOccurrence.starts_at)
        .limit(limit)
    )
    return list(rows)


async def find_occurrence(session: AsyncSession, occurrence_id: int) -> MatchOccurrence | None:
    return await session.get(MatchOccurrence, occurrence_id)
