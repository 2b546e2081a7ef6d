"""Matches and group activities: who meets whom, when, and the reminders before each
meeting. Plain async functions over a session; `now` is always a parameter, and texts are
left to the handlers (these functions return data)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import people
from bot.domain.schedule import (
    BIWEEKLY,
    DATES,
    DAY_BEFORE,
    HOURS_BEFORE,
    WEEKLY,
    local_to_utc,
    local_today,
    reminder_due,
    rhythm_dates,
)
from storage.models import (
    Match,
    MatchDigest,
    MatchOccurrence,
    MatchVolunteer,
    Pause,
    Person,
    ReminderDelivery,
    ReminderPreference,
)

log = logging.getLogger(__name__)

HORIZON = timedelta(weeks=8)
PLANNED, MOVED, CANCELLED = "planned", "moved", "cancelled"
LIVE_STATUSES = (PLANNED, MOVED)
REGULAR, TEMPORARY = "regular", "temporary"
PENDING, SENT, SKIPPED = "pending", "sent", "skipped"
# Claimed, message in flight. Reminder passes never overlap, so a pass that finds one left
# behind knows the process that claimed it died mid-send: it is due again (at-least-once).
SENDING = "sending"
DUE_STATES = (PENDING, SENDING)
MAX_LABEL = 20


class MatchError(ValueError):
    """A request the rules refuse; `code` tells the handler which kind words to use."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# For the pause feature --------------------------------------------------------------------


@dataclass(frozen=True)
class PersonMatch:
    match_id: int
    label: str
    kind: str
    next_starts: list[datetime]  # UTC starts of the next planned meetings within the horizon


async def matches_for_person(
    session: AsyncSession,
    group_id: int,
    person_id: int,
    now: datetime,
    *,
    horizon: timedelta = timedelta(weeks=4),
) -> list[PersonMatch]:
    """The matches and activities someone is on now (as regular or temporary volunteer),
    with the starts of their next meetings (not cancelled) within `horizon`."""
    rows = await session.execute(
        select(Match.id, Match.label, Match.kind)
        .join(MatchVolunteer, MatchVolunteer.match_id == Match.id)
        .where(
            Match.group_id == group_id,
            Match.ended_at.is_(None),
            MatchVolunteer.person_id == person_id,
            MatchVolunteer.ended_at.is_(None),
        )
        .distinct()
        .order_by(Match.id)
    )
    found = [tuple(r) for r in rows]
    if not found:
        return []
    starts: dict[int, list[datetime]] = defaultdict(list)
    occurrences = await session.execute(
        select(MatchOccurrence.match_id, MatchOccurrence.starts_at)
        .where(
            MatchOccurrence.match_id.in_([r[0] for r in found]),
            MatchOccurrence.status.in_(LIVE_STATUSES),
            MatchOccurrence.starts_at > now,
            MatchOccurrence.starts_at <= now + horizon,
        )
        .order_by(MatchOccurrence.starts_at)
    )
    for match_id, starts_at in occurrences:
        starts[match_id].append(starts_at)
    return [PersonMatch(mid, label, kind, starts[mid]) for mid, label, kind in found]


# Creating -------------------------------------------------------------------------------


def looks_like_full_name(label: str) -> bool:
    """Two or more capitalised words of two+ letters ("Karen Larsen") look like a name."""
    words = [w for w in label.replace(".", " ").split() if len(w) >= 2]
    return sum(1 for w in words if w[0].isupper() and w[1:].islower()) >= 2


def check_label(label: str, kind: str) -> str:
    """A citizen label must be short and not a full name (activities just need a name)."""
    label = " ".join(label.split())
    if not label:
        raise MatchError("label_missing")
    limit = MAX_LABEL if kind == "match" else 40
    if len(label) > limit:
        raise MatchError("label_too_long")
    if kind == "match" and looks_like_full_name(label):
        raise MatchError("label_full_name")
    return label


@dataclass(frozen=True)
class Plan:
    """What the coordinator asked for: a rhythm on a weekday and local time, or dates."""

    rhythm: str
    weekday: int | None = None
    at: time | None = None
    start: date | None = None
    end: date | None = None
    dates: tuple[tuple[date, time], ...] = ()


async def create_match(
    session: AsyncSession,
    group_id: int,
    *,
    kind: str,
    label: str,
    volunteer_ids: Sequence[int],
    plan: Plan,
    place: str | None,
    now: datetime,
    tz: ZoneInfo,
) -> Match:
    """A new match or activity with its volunteers; its meetings and reminders are planned
    at once so nothing depends on the next scheduler pass."""
    label = check_label(label, kind)
    unique_ids = list(dict.fromkeys(volunteer_ids))
    limit = 2 if kind == "match" else 4
    if not unique_ids:
        raise MatchError("no_volunteers")
    if len(unique_ids) > limit:
        raise MatchError("too_many_volunteers")
    today = local_today(now, tz)
    if plan.rhythm in (WEEKLY, BIWEEKLY):
        if plan.weekday is None or plan.at is None:
            raise MatchError("rhythm_incomplete")
        start = plan.start or today
        if plan.end is not None and plan.end < start:
            raise MatchError("end_before_start")
    elif plan.rhythm == DATES:
        if not plan.dates:
            raise MatchError("rhythm_incomplete")
        if any(local_to_utc(d, t, tz) <= now for d, t in plan.dates):
            raise MatchError("date_in_past")
        start = min(d for d, _ in plan.dates)
    else:
        raise MatchError("rhythm_unknown")
    match = Match(
        group_id=group_id,
        kind=kind,
        label=label,
        place=(place or "").strip()[:80] or None,
        rhythm=plan.rhythm,
        weekday=plan.weekday,
        local_time=plan.at,
        start_date=start,
        end_date=plan.end,
        planned_until=None,
        created_at=now,
    )
    session.add(match)
    await session.flush()
    for person_id in unique_ids:
        session.add(
            MatchVolunteer(
                group_id=group_id,
                match_id=match.id,
                person_id=person_id,
                role=REGULAR,
                added_at=now,
            )
        )
    if plan.rhythm == DATES:
        for day, at in sorted(set(plan.dates)):
            session.add(_occurrence(match, day, at, tz))
        match.planned_until = max(d for d, _ in plan.dates)
    await session.flush()
    await plan_occurrences(session, group_id, now, tz, match_ids=[match.id])
    await arm_reminders(session, group_id, now, tz)
    return match


def _occurrence(match: Match, day: date, at: time, tz: ZoneInfo) -> MatchOccurrence:
    return MatchOccurrence(
        group_id=match.group_id,
        match_id=match.id,
        scheduled_date=day,
        local_date=day,
        local_time=at,
        starts_at=local_to_utc(day, at, tz),
        status=PLANNED,
        armed=False,
    )


# Planning meetings and arming reminders (set-based: thousands of matches per pass) ---------


def _insert_ignoring_duplicates(session: AsyncSession, model: type) -> object:
    """INSERT that skips rows a unique constraint already holds (SQLite and PostgreSQL)."""
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(model.__table__).on_conflict_do_nothing()  # type: ignore[attr-defined]


def _chunks(items: Sequence, size: int = 500) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def plan_occurrences(
    session: AsyncSession,
    group_id: int,
    now: datetime,
    tz: ZoneInfo,
    *,
    horizon: timedelta = HORIZON,
    match_ids: Sequence[int] | None = None,
) -> int:
    """Make rows for every rhythm's meetings up to `horizon` ahead (local dates). Returns
    how many were added. Only matches not yet planned that far are read."""
    through = local_today(now, tz) + timedelta(days=horizon.days)
    query = select(
        Match.id,
        Match.rhythm,
        Match.weekday,
        Match.local_time,
        Match.start_date,
        Match.end_date,
        Match.planned_until,
    ).where(
        Match.group_id == group_id,
        Match.ended_at.is_(None),
        Match.rhythm.in_((WEEKLY, BIWEEKLY)),
        (Match.planned_until.is_(None)) | (Match.planned_until < through),
        (Match.end_date.is_(None))
        | (Match.planned_until.is_(None))
        | (Match.planned_until < Match.end_date),
    )
    if match_ids is not None:
        query = query.where(Match.id.in_(match_ids))
    rows = (await session.execute(query)).all()
    if not rows:
        return 0
    new_rows: list[dict] = []
    for match_id, rhythm, weekday, at, start, end, planned_until in rows:
        after = start if planned_until is None else max(start, planned_until + timedelta(days=1))
        for day in rhythm_dates(rhythm, weekday, start, after=after, through=through, end=end):
            new_rows.append(
                {
                    "group_id": group_id,
                    "match_id": match_id,
                    "scheduled_date": day,
                    "local_date": day,
                    "local_time": at,
                    "starts_at": local_to_utc(day, at, tz),
                    "status": PLANNED,
                    "armed": False,
                }
            )
    if new_rows:
        await session.execute(_insert_ignoring_duplicates(session, MatchOccurrence), new_rows)
    ids = [r[0] for r in rows]
    for chunk in _chunks(ids):
        await session.execute(
            update(Match).where(Match.id.in_(chunk)).values(planned_until=through)
        )
    return len(new_rows)


async def _preferences(
    session: AsyncSession, person_ids: Iterable[int]
) -> dict[int, ReminderPreference]:
    ids = list(set(person_ids))
    found: dict[int, ReminderPreference] = {}
    for chunk in _chunks(ids):
        for pref in await session.scalars(
            select(ReminderPreference).where(ReminderPreference.person_id.in_(chunk))
        ):
            found[pref.person_id] = pref
    return found


def due_times(
    pref: ReminderPreference | None, local_date: date, starts_at: datetime, tz: ZoneInfo
) -> dict[str, datetime]:
    """A volunteer's reminders before one meeting, by lead key."""
    day_on = pref.day_before if pref else True
    hours_on = pref.hours_before if pref else True
    hour = pref.day_before_hour if pref else 18
    count = pref.hours_before_count if pref else 2
    leads: dict[str, datetime] = {}
    if day_on:
        leads[DAY_BEFORE] = reminder_due(
            DAY_BEFORE, local_date, starts_at, tz, day_before_hour=hour
        )
    if hours_on:
        leads[HOURS_BEFORE] = reminder_due(
            HOURS_BEFORE, local_date, starts_at, tz, hours_before=count
        )
    return leads


async def arm_reminders(session: AsyncSession, group_id: int, now: datetime, tz: ZoneInfo) -> int:
    """Make reminder rows for every meeting not yet armed. A reminder whose moment is
    already past when it is armed (a meeting made or moved at short notice) is not made;
    rows made earlier and found late are the send pass's business (grace or skip)."""
    occurrences = (
        await session.execute(
            select(
                MatchOccurrence.id,
                MatchOccurrence.match_id,
                MatchOccurrence.local_date,
                MatchOccurrence.starts_at,
                MatchOccurrence.status,
            ).where(MatchOccurrence.group_id == group_id, MatchOccurrence.armed.is_(False))
        )
    ).all()
    if not occurrences:
        return 0
    match_ids = list({o[1] for o in occurrences})
    volunteers: dict[int, list[int]] = defaultdict(list)
    for chunk in _chunks(match_ids):
        for match_id, person_id in await session.execute(
            select(MatchVolunteer.match_id, MatchVolunteer.person_id)
            .join(Match, Match.id == MatchVolunteer.match_id)
            .where(
                MatchVolunteer.match_id.in_(chunk),
                MatchVolunteer.ended_at.is_(None),
                Match.ended_at.is_(None),
            )
        ):
            volunteers[match_id].append(person_id)
    prefs = await _preferences(session, (p for ps in volunteers.values() for p in ps))
    new_rows: list[dict] = []
    for occurrence_id, match_id, local_date, starts_at, status in occurrences:
        if status not in LIVE_STATUSES or starts_at <= now:
            continue
        for person_id in volunteers.get(match_id, []):
            for lead, due_at in due_times(prefs.get(person_id), local_date, starts_at, tz).items():
                if due_at > now:
                    new_rows.append(
                        {
                            "group_id": group_id,
                            "occurrence_id": occurrence_id,
                            "person_id": person_id,
                            "lead": lead,
                            "due_at": due_at,
                            "state": PENDING,
                        }
                    )
    if new_rows:
        await session.execute(_insert_ignoring_duplicates(session, ReminderDelivery), new_rows)
    for chunk in _chunks([o[0] for o in occurrences]):
        await session.execute(
            update(MatchOccurrence).where(MatchOccurrence.id.in_(chunk)).values(armed=True)
        )
    return len(new_rows)


async def _rearm_future(
    session: AsyncSession,
    now: datetime,
    *,
    match_ids: Sequence[int] | None = None,
    occurrence_ids: Sequence[int] | None = None,
) -> None:
    """Future meetings get their reminder rows made again (new volunteer, new times)."""
    query = update(MatchOccurrence).where(MatchOccurrence.starts_at > now)
    if match_ids is not None:
        query = query.where(MatchOccurrence.match_id.in_(match_ids))
    if occurrence_ids is not None:
        query = query.where(MatchOccurrence.id.in_(occurrence_ids))
    await session.execute(query.values(armed=False))


# Sending reminders ------------------------------------------------------------------------


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


# Volunteers' own meetings -----------------------------------------------------------------


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
    session: AsyncSession, group_id: int, occurrence_id: int, person_id: int | None
) -> tuple[MatchOccurrence, Match, list[Person]]:
    occurrence = await session.get(MatchOccurrence, occurrence_id)
    if occurrence is None or occurrence.group_id != group_id:
        raise MatchError("not_found")
    match = await session.get_one(Match, occurrence.match_id)
    if match.ended_at is not None:
        raise MatchError("ended")
    volunteers = await active_volunteers_of(session, match.id)
    if person_id is not None and person_id not in {p.id for p in volunteers}:
        raise MatchError("not_yours")
    return occurrence, match, [p for p in volunteers if p.id != person_id]


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
    occurrence, match, others = await own_occurrence(session, group_id, occurrence_id, person_id)
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
    occurrence, match, others = await own_occurrence(session, group_id, occurrence_id, person_id)
    if occurrence.starts_at <= now:
        raise MatchError("passed")
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
    match = await session.get(Match, match_id)
    if match is None or match.group_id != group_id:
        raise MatchError("not_found")
    if match.ended_at is not None:
        raise MatchError("ended")
    volunteers = await active_volunteers_of(session, match.id)
    if person_id is not None and person_id not in {p.id for p in volunteers}:
        raise MatchError("not_yours")
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
    return Change(match, None, [p for p in volunteers if p.id != person_id])


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


# Reminder preferences ---------------------------------------------------------------------


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


# The coordinator's overview, covers and endings ------------------------------------------


@dataclass(frozen=True)
class MatchVolunteerView:
    person_id: int
    first_name: str
    role: str
    paused: bool


@dataclass(frozen=True)
class UpcomingMeeting:
    """What the overview shows of a coming meeting."""

    starts_at: datetime
    status: str


@dataclass(frozen=True)
class MatchView:
    match: Match
    volunteers: list[MatchVolunteerView]
    next: list[UpcomingMeeting]

    @property
    def needs_cover(self) -> bool:
        """No volunteer on it who is not on a pause (temporary covers count)."""
        return not any(not v.paused for v in self.volunteers)


async def overview(
    session: AsyncSession, group_id: int, now: datetime, *, next_count: int = 3
) -> list[MatchView]:
    """Every running match and activity, its volunteers (paused or not), the next meetings.

    A few statements whatever the size: the matches, their volunteers, and only the next
    `next_count` meetings of each (`next_meetings`; none with 0), so a group with thousands
    of matches does not load every planned meeting. Volunteers
    and meetings are read as plain columns: the overview changes nothing, and building
    thousands of ORM objects was most of its time."""
    running = (Match.group_id == group_id, Match.ended_at.is_(None))
    matches = list(
        await session.scalars(
            select(Match).where(*running).order_by(Match.kind.desc(), Match.label, Match.id)
        )
    )
    if not matches:
        return []
    paused = await people.paused_person_ids(session, group_id, now)
    volunteers: dict[int, list[MatchVolunteerView]] = defaultdict(list)
    for match_id, person_id, first_name, role in await session.execute(
        select(MatchVolunteer.match_id, Person.id, Person.first_name, MatchVolunteer.role)
        .join(Person, Person.id == MatchVolunteer.person_id)
        .join(Match, Match.id == MatchVolunteer.match_id)
        .where(*running, MatchVolunteer.ended_at.is_(None))
        .order_by(MatchVolunteer.id)
    ):
        volunteers[match_id].append(
            MatchVolunteerView(person_id, first_name, role, person_id in paused)
        )
    upcoming = await next_meetings(session, group_id, now, next_count) if next_count else {}
    return [MatchView(m, volunteers[m.id], upcoming.get(m.id, [])) for m in matches]


async def next_meetings(
    session: AsyncSession, group_id: int, now: datetime, count: int = 3
) -> dict[int, list[UpcomingMeeting]]:
    """The next `count` meetings of every running match, by match id, soonest first: one
    statement with a ROW_NUMBER() window (SQLite and PostgreSQL alike)."""
    running = (Match.group_id == group_id, Match.ended_at.is_(None))
    ranked = (
        select(
            MatchOccurrence.id.label("id"),
            func.row_number()
            .over(
                partition_by=MatchOccurrence.match_id,
                order_by=(MatchOccurrence.starts_at, MatchOccurrence.id),
            )
            .label("position"),
        )
        .join(Match, Match.id == MatchOccurrence.match_id)
        .where(*running, MatchOccurrence.starts_at > now)
        .subquery()
    )
    upcoming: dict[int, list[UpcomingMeeting]] = defaultdict(list)
    for match_id, starts_at, status in await session.execute(
        select(MatchOccurrence.match_id, MatchOccurrence.starts_at, MatchOccurrence.status)
        .join(ranked, ranked.c.id == MatchOccurrence.id)
        .where(ranked.c.position <= count)
        .order_by(MatchOccurrence.match_id, MatchOccurrence.starts_at, MatchOccurrence.id)
    ):
        upcoming[match_id].append(UpcomingMeeting(starts_at, status))
    return upcoming


async def find_running_by_label(session: AsyncSession, group_id: int, label: str) -> list[Match]:
    wanted = " ".join(label.split()).lower()
    rows = await session.scalars(
        select(Match).where(Match.group_id == group_id, Match.ended_at.is_(None))
    )
    return [m for m in rows if m.label.lower() == wanted]


async def end_match(session: AsyncSession, group_id: int, match_id: int, now: datetime) -> Change:
    """The match or activity ends: no more reminders; its volunteers are returned."""
    match = await session.get(Match, match_id)
    if match is None or match.group_id != group_id:
        raise MatchError("not_found")
    if match.ended_at is not None:
        raise MatchError("ended")
    volunteers = await active_volunteers_of(session, match.id)
    match.ended_at = now
    for mv in await session.scalars(
        select(MatchVolunteer).where(
            MatchVolunteer.match_id == match.id, MatchVolunteer.ended_at.is_(None)
        )
    ):
        mv.ended_at = now
    future = select(MatchOccurrence.id).where(
        MatchOccurrence.match_id == match.id, MatchOccurrence.starts_at > now
    )
    await session.execute(
        update(ReminderDelivery)
        .where(ReminderDelivery.occurrence_id.in_(future), ReminderDelivery.state == PENDING)
        .values(state=SKIPPED, skipped_at=now, outcome="ended")
    )
    return Change(match, None, volunteers)


@dataclass(frozen=True)
class Cover:
    match: Match
    volunteer: Person
    paused: Person
    pause: Pause


async def add_cover(
    session: AsyncSession,
    group_id: int,
    match_id: int,
    person_id: int,
    now: datetime,
    tz: ZoneInfo,
) -> Cover:
    """A temporary volunteer for a match while one of its volunteers is on a pause; it
    ends by itself when that pause ends."""
    match = await session.get(Match, match_id)
    if match is None or match.group_id != group_id or match.ended_at is not None:
        raise MatchError("not_found")
    volunteers = await active_volunteers_of(session, match.id)
    if person_id in {p.id for p in volunteers}:
        raise MatchError("already_on_match")
    if await people.current_pause(session, person_id, now) is not None:
        raise MatchError("cover_is_paused")
    for volunteer in volunteers:
        pause = await people.current_pause(session, volunteer.id, now)
        if pause is not None:
            break
    else:
        raise MatchError("nobody_paused")
    session.add(
        MatchVolunteer(
            group_id=group_id,
            match_id=match.id,
            person_id=person_id,
            role=TEMPORARY,
            until_pause_id=pause.id,
            added_at=now,
        )
    )
    await session.flush()
    await _rearm_future(session, now, match_ids=[match.id])
    await arm_reminders(session, group_id, now, tz)
    return Cover(match, await session.get_one(Person, person_id), volunteer, pause)


async def end_covers_for_pause(
    session: AsyncSession, group_id: int, pause_id: int, now: datetime
) -> list[tuple[Match, Person]]:
    """The pause is over: temporary volunteers tied to it step back (their pending
    reminders are skipped at sending, as they are no longer on the match)."""
    ended = []
    for mv, match, person in await session.execute(
        select(MatchVolunteer, Match, Person)
        .join(Match, Match.id == MatchVolunteer.match_id)
        .join(Person, Person.id == MatchVolunteer.person_id)
        .where(
            MatchVolunteer.group_id == group_id,
            MatchVolunteer.until_pause_id == pause_id,
            MatchVolunteer.ended_at.is_(None),
        )
    ):
        mv.ended_at = now
        if match.ended_at is None:
            ended.append((match, person))
    return ended


# The coordinator's weekly digest ----------------------------------------------------------


def next_digest_slot(after: datetime, weekday: int, at: time, tz: ZoneInfo) -> datetime:
    day = local_today(after, tz)
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if candidate_day.weekday() == weekday:
            candidate = local_to_utc(candidate_day, at, tz)
            if candidate > after:
                return candidate
    return local_to_utc(day + timedelta(days=7), at, tz)  # pragma: no cover


async def claim_digest(
    session: AsyncSession, group_id: int, now: datetime, weekday: int, at: time, tz: ZoneInfo
) -> bool:
    """True once per week when the digest is due (the row moves on to next week first)."""
    row = await session.scalar(select(MatchDigest).where(MatchDigest.group_id == group_id))
    if row is None:
        session.add(
            MatchDigest(group_id=group_id, next_due_at=next_digest_slot(now, weekday, at, tz))
        )
        await session.flush()
        return False
    if now < row.next_due_at:
        return False
    row.next_due_at, row.last_sent_at = next_digest_slot(now, weekday, at, tz), now
    return True


@dataclass(frozen=True)
class Digest:
    waiting: list[tuple[Person, datetime]]  # volunteers without a match, and since when
    cancelled_in_a_row: list[tuple[Match, int]]

    @property
    def empty(self) -> bool:
        return not self.waiting and not self.cancelled_in_a_row


async def digest(
    session: AsyncSession,
    group_id: int,
    now: datetime,
    *,
    unmatched_weeks: int,
    cancelled_streak: int,
    coordinator_user_ids: Iterable[int] = (),
) -> Digest:
    """Who has waited long without a match (not counting paused people), and which
    matches have had several cancelled meetings in a row."""
    coordinators = set(coordinator_user_ids)
    paused = await people.paused_person_ids(session, group_id, now)
    on_match = set(
        await session.scalars(
            select(MatchVolunteer.person_id)
            .join(Match, Match.id == MatchVolunteer.match_id)
            .where(
                Match.group_id == group_id,
                Match.ended_at.is_(None),
                MatchVolunteer.ended_at.is_(None),
            )
        )
    )
    last_on: dict[int, datetime] = dict(
        (pid, when)
        for pid, when in await session.execute(
            select(MatchVolunteer.person_id, func.max(MatchVolunteer.ended_at))
            .where(MatchVolunteer.group_id == group_id)
            .group_by(MatchVolunteer.person_id)
        )
        if when is not None
    )
    waiting = []
    for person in await people.members(session, group_id):
        if person.telegram_user_id in coordinators or person.id in paused or person.id in on_match:
            continue
        since = max(person.joined_at, last_on.get(person.id, person.joined_at))
        if now - since >= timedelta(weeks=unmatched_weeks):
            waiting.append((person, since))
    streaks = []
    for match in await session.scalars(
        select(Match).where(Match.group_id == group_id, Match.ended_at.is_(None))
    ):
        # The latest meetings that took place or were due, and those already cancelled
        # ahead: a run of cancellations at the top is a streak.
        recent = await session.scalars(
            select(MatchOccurrence.status)
            .where(
                MatchOccurrence.match_id == match.id,
                (MatchOccurrence.starts_at <= now) | (MatchOccurrence.status == CANCELLED),
            )
            .order_by(MatchOccurrence.starts_at.desc())
            .limit(cancelled_streak)
        )
        statuses = list(recent)
        if len(statuses) == cancelled_streak and all(s == CANCELLED for s in statuses):
            streaks.append((match, cancelled_streak))
    return Digest(sorted(waiting, key=lambda w: w[1]), streaks)
