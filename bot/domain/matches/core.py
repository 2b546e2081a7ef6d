"""Matches and activities: the rules for creating them, the labels, errors and what the
pause feature reads; planning their meetings ahead and arming the reminders (set-based:
thousands of matches per pass)."""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Select, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.bulk import roomy_cache
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
from bot.domain.typed_dates import last_allowed_day
from storage.models import (
    Match,
    MatchOccurrence,
    MatchVolunteer,
    ReminderDelivery,
    ReminderPreference,
)
from storage.models.outbox import PENDING as OUTBOX_PENDING
from storage.models.outbox import OutboxItem

log = logging.getLogger(__name__)


HORIZON = timedelta(weeks=8)


PLANNED, MOVED, CANCELLED = "planned", "moved", "cancelled"


class ChangeKind(StrEnum):
    """What a volunteer changed, for the others on the match."""

    CANCELLED = "cancelled"
    NOT_COMING = "not_coming"
    MOVED = "moved"
    RHYTHM = "rhythm"


LIVE_STATUSES = (PLANNED, MOVED)


REGULAR, TEMPORARY = "regular", "temporary"


PENDING, SENT, SKIPPED = "pending", "sent", "skipped"
# Each pending reminder row is promised as one outbox item of this kind (subject: the row);
# the outbox sends it at least once, and the row's state makes a second copy unwanted.
REMINDER_KIND = "match_reminder"


MAX_LABEL = 20


class MatchError(ValueError):
    """A request the rules refuse; `code` tells the handler which kind words to use."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


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


def looks_like_full_name(label: str) -> bool:
    """Two or more words of two+ letters look like a name, whatever the case and whatever
    separates them ("Karen Larsen", "karen larsen", "KAREN_LARSEN"); initials ("K.L.") and
    one nickname don't."""
    words = [w for w in re.split(r"[\W\d_]+", label) if len(w) >= 2]
    return len(words) >= 2


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


def check_within_reach(days: Iterable[date | None], today: date) -> None:
    """A typed date more than two years on is a typing mistake, not a plan ("date_too_far";
    `last_allowed_day` says until when)."""
    last = last_allowed_day(today)
    if any(day is not None and day > last for day in days):
        raise MatchError("date_too_far")


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
    check_within_reach([plan.start, plan.end, *(d for d, _ in plan.dates)], today)
    if plan.rhythm in (WEEKLY, BIWEEKLY):
        if plan.weekday is None or plan.at is None:
            raise MatchError("rhythm_incomplete")
        start = plan.start or today
        if plan.end is not None and plan.end < start:
            raise MatchError("end_before_start")
    elif plan.rhythm == DATES:
        if not plan.dates:
            raise MatchError("rhythm_incomplete")
        # The day first: a year like 1 has no UTC moment to compare.
        if any(d < today or local_to_utc(d, t, tz) <= now for d, t in plan.dates):
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
    # Thousands of matches share a few hundred (day, time) pairs: convert each once.
    starts: dict[tuple[date, time], datetime] = {}
    for match_id, rhythm, weekday, at, start, end, planned_until in rows:
        after = start if planned_until is None else max(start, planned_until + timedelta(days=1))
        for day in rhythm_dates(rhythm, weekday, start, after=after, through=through, end=end):
            starts_at = starts.get((day, at))
            if starts_at is None:
                starts_at = starts[day, at] = local_to_utc(day, at, tz)
            new_rows.append(
                {
                    "group_id": group_id,
                    "match_id": match_id,
                    "scheduled_date": day,
                    "local_date": day,
                    "local_time": at,
                    "starts_at": starts_at,
                    "status": PLANNED,
                    "armed": False,
                }
            )
    if new_rows:
        async with roomy_cache(session, len(new_rows)):
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


def _lead_settings(pref: ReminderPreference | None) -> tuple[bool, bool, int, int] | None:
    """What of a preference decides its due times (None: the defaults)."""
    if pref is None:
        return None
    return (pref.day_before, pref.hours_before, pref.day_before_hour, pref.hours_before_count)


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
    # Most volunteers keep the defaults and meetings share a few hundred (date, start)
    # pairs: each combination's due times are computed once (they need the time zone).
    leads_for: dict[tuple, list[tuple[str, datetime]]] = {}
    for occurrence_id, match_id, local_date, starts_at, status in occurrences:
        if status not in LIVE_STATUSES or starts_at <= now:
            continue
        for person_id in volunteers.get(match_id, []):
            pref = prefs.get(person_id)
            key = (_lead_settings(pref), local_date, starts_at)
            leads = leads_for.get(key)
            if leads is None:
                leads = leads_for[key] = list(due_times(pref, local_date, starts_at, tz).items())
            for lead, due_at in leads:
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
    async with roomy_cache(session, len(new_rows)):
        if new_rows:
            newest = await session.scalar(select(func.max(ReminderDelivery.id))) or 0
            await session.execute(_insert_ignoring_duplicates(session, ReminderDelivery), new_rows)
            await promise_reminders(session, group_id, newest)
        # Large chunks: the first pass after a long stop arms 40,000 meetings (a statement
        # per 500 was 80); well under SQLite's and PostgreSQL's 32,766 parameters.
        for chunk in _chunks([o[0] for o in occurrences], 10_000):
            await session.execute(
                update(MatchOccurrence).where(MatchOccurrence.id.in_(chunk)).values(armed=True)
            )
    return len(new_rows)


async def promise_reminders(session: AsyncSession, group_id: int, after_id: int) -> None:
    """The reminder rows just made (ids above `after_id`: ids only grow) each go into the
    outbox, in the transaction that made them; one INSERT ... SELECT, so arming 5,000
    matches stays fast."""
    rows = select(
        ReminderDelivery.group_id,
        literal(REMINDER_KIND),
        ReminderDelivery.id,
        ReminderDelivery.person_id,
        ReminderDelivery.due_at,
        literal(OUTBOX_PENDING),
        literal(0),
    ).where(
        ReminderDelivery.group_id == group_id,
        ReminderDelivery.id > after_id,
        ReminderDelivery.state == PENDING,
    )
    columns = ["group_id", "kind", "subject_id", "person_id", "due_at", "state", "attempts"]
    await session.execute(insert(OutboxItem).from_select(columns, rows))


async def forget_promises(session: AsyncSession, delivery_ids: Select[tuple[int]]) -> None:
    """Reminder rows about to be deleted take their outbox items with them (a new row may
    later get a deleted one's id)."""
    await session.execute(
        delete(OutboxItem).where(
            OutboxItem.kind == REMINDER_KIND, OutboxItem.subject_id.in_(delivery_ids)
        )
    )


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
