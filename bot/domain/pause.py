"""A volunteer's pause: starting, extending and ending it, and keeping in touch meanwhile.

A pause runs until it is ended (by the volunteer or the coordinator); `until` is only the
planned date on which the volunteer is gently asked whether they are ready. Two due times
live on the row: `next_checkin_at` (remind the coordinator to check in) and `ask_at` (ask
the volunteer whether they are ready); claiming one moves it on and enqueues the message in
the same transaction, so it is sent at least once and a restart never repeats it.

What the pause tells the coordinators (started, a little longer, back, "let's talk", the
check-in) and the readiness question go through the outbox (`bot.domain.outbox`), enqueued
in the transaction that changes the pause. No reason is ever stored; the volunteer's few
words to the coordinator wait on the row, sealed by the handler (`bot/sealing.py`), only
until every coordinator's notice is done.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import away, outbox
from bot.domain.localtime import local_to_utc, local_today
from bot.domain.people import active_pause_filter, current_pause
from bot.domain.typed_dates import last_allowed_day, parse_day
from storage.models import Pause, Person

if TYPE_CHECKING:
    from bot.domain.matches import PersonMatch

# Due things about a pause happen at this local time of day (a gentle morning hour).
LOCAL_HOUR = time(10, 0)


# What the pause promises to send (outbox kinds): notices to each coordinator...
STARTED = "pause_started"
LONGER = "pause_longer"
BACK = "pause_back"
TALK = "pause_talk"
CHECKIN = "pause_checkin"
# ...and the readiness question to the volunteer.
QUESTION = "pause_question"
KINDS = (STARTED, LONGER, BACK, TALK, CHECKIN, QUESTION)


class Length(StrEnum):
    """The durations offered as buttons."""

    TWO_WEEKS = "2w"
    ONE_MONTH = "1m"
    THREE_MONTHS = "3m"
    OPEN = "open"  # "I don't know yet"


@dataclass(frozen=True)
class Rhythm:
    """How often the coordinator is reminded, and when an open-ended pause is asked about."""

    checkin_every: timedelta = timedelta(weeks=3)
    open_ended_ask_after: timedelta = timedelta(weeks=6)


class AlreadyPaused(Exception):
    """The person already has a pause running."""


class NotPaused(Exception):
    """The person has no pause running."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def planned_end(length: Length, today: date) -> date | None:
    """The end date a button stands for (None: open-ended)."""
    if length is Length.TWO_WEEKS:
        return today + timedelta(weeks=2)
    if length is Length.ONE_MONTH:
        return add_months(today, 1)
    if length is Length.THREE_MONTHS:
        return add_months(today, 3)
    return None


class DateProblem(StrEnum):
    UNREADABLE = "unreadable"
    NOT_IN_FUTURE = "not_in_future"
    TOO_FAR = "too_far"


def parse_end_date(text: str, today: date) -> date | DateProblem:
    """A typed end date (9.12, 9/12, 9.12.2027, 2027-12-09, see `typed_dates`), after today
    and within two years."""
    chosen = parse_day(text, today)
    if chosen is None:
        return DateProblem.UNREADABLE
    if chosen <= today:
        return DateProblem.NOT_IN_FUTURE
    if chosen > last_planned_day(today):
        return DateProblem.TOO_FAR
    return chosen


def last_planned_day(today: date) -> date:
    """The last day a pause may be planned to end on (further is a typing mistake): the
    same last day as every other typed date."""
    return last_allowed_day(today)


local_day = local_today  # the pause rules' name for it


def at_local_hour(day: date, tz: ZoneInfo) -> datetime:
    """LOCAL_HOUR on a local date, as a UTC instant (right across daylight saving)."""
    return local_to_utc(day, LOCAL_HOUR, tz)


def _after(now: datetime, span: timedelta, tz: ZoneInfo) -> datetime:
    """LOCAL_HOUR on the local date `span` (whole days) after now's local date."""
    return at_local_hour(local_day(now, tz) + timedelta(days=span.days), tz)


def _ask_at(until: datetime | None, now: datetime, rhythm: Rhythm, tz: ZoneInfo) -> datetime:
    return until if until is not None else _after(now, rhythm.open_ended_ask_after, tz)


async def start_pause(
    session: AsyncSession,
    group_id: int,
    person_id: int,
    now: datetime,
    *,
    until_day: date | None,
    wants_cover: bool,
    rhythm: Rhythm,
    tz: ZoneInfo,
    note: str | None = None,
    notify: Sequence[int] = (),
    wait_for_coordinator: bool = False,
) -> Pause:
    """Pause a volunteer from now, until a planned date (asked then) or open-ended; the
    coordinators `notify` (Telegram ids) are promised a notice, with the volunteer's `note`
    (sealed: this row never holds it readable). `wait_for_coordinator`: a coordinator who
    is away gets the pause's notices when back, never the stand-in."""
    if await current_pause(session, person_id, now) is not None:
        raise AlreadyPaused
    until = at_local_hour(until_day, tz) if until_day is not None else None
    pause = Pause(
        group_id=group_id,
        person_id=person_id,
        started_at=now,
        until=until,
        ended_at=None,
        wants_cover=wants_cover,
        next_checkin_at=_after(now, rhythm.checkin_every, tz),
        ask_at=_ask_at(until, now, rhythm, tz),
        note_for_coordinator=(note or None) if notify else None,
    )
    session.add(pause)
    await session.flush()
    if wait_for_coordinator:
        await away.wait_for_coordinator(session, group_id, pause.id, now)
    await tell_coordinators(session, pause, STARTED, now, notify)
    return pause


async def tell_coordinators(
    session: AsyncSession, pause: Pause, kind: str, now: datetime, coordinators: Sequence[int]
) -> int:
    """Promise each coordinator (Telegram ids) who has a row (everyone who started the bot
    has), or their stand-in, a notice of `kind` about this pause; returns how many were
    promised."""
    if not coordinators:
        return 0
    count = 0
    # During a coordinator's period away, the stand-in (or, for a pause that waits for the
    # coordinator, the coordinator at the period's end): `away.route` decides.
    for recipient in await away.route(
        session, pause.group_id, coordinators, now, pause_id=pause.id
    ):
        if recipient.person_id is None:
            continue
        await outbox.enqueue(
            session, pause.group_id, kind, pause.id, recipient.person_id, recipient.due_at
        )
        count += 1
    return count


async def notice_reached(session: AsyncSession, kind: str, pause_id: int) -> bool:
    """Whether a coordinator got (or may still get) the pause's notice of `kind`: not when
    none was promised, nor when every one is done unsent."""
    outcomes = await outbox.outcomes(session, kind, pause_id)
    return any(outcome in (None, outbox.SENT) for outcome in outcomes)


async def notice_done(session: AsyncSession, pause_id: int) -> None:
    """After each start notice: once none is left to send, the note is let go."""
    if None in await outbox.outcomes(session, STARTED, pause_id):
        return
    pause = await session.get(Pause, pause_id)
    if pause is not None:
        pause.note_for_coordinator = None


async def extend_pause(
    session: AsyncSession,
    person_id: int,
    now: datetime,
    *,
    until_day: date | None,
    rhythm: Rhythm,
    tz: ZoneInfo,
    notify: Sequence[int] = (),
) -> Pause:
    """A little longer: a new planned date (or open-ended); the question waits until then.
    The coordinators `notify` are told."""
    pause = await current_pause(session, person_id, now)
    if pause is None:
        raise NotPaused
    pause.until = at_local_hour(until_day, tz) if until_day is not None else None
    pause.ask_at = _ask_at(pause.until, now, rhythm, tz)
    await session.flush()
    await tell_coordinators(session, pause, LONGER, now, notify)
    return pause


async def end_pause(
    session: AsyncSession, person_id: int, now: datetime, *, notify: Sequence[int] = ()
) -> Pause:
    """The volunteer is back (the coordinators `notify` are told). Raises NotPaused when
    there is nothing to end. (What the outbox held for them is woken on `pause_ended`.)"""
    pause = await current_pause(session, person_id, now)
    if pause is None:
        raise NotPaused
    pause.ended_at = now
    pause.next_checkin_at = None
    pause.ask_at = None
    await session.flush()
    await tell_coordinators(session, pause, BACK, now, notify)
    return pause


async def want_to_talk(
    session: AsyncSession, person_id: int, now: datetime, notify: Sequence[int]
) -> bool:
    """The volunteer would like to talk about the pause: the coordinators are told."""
    pause = await current_pause(session, person_id, now)
    if pause is None:
        return False
    return await tell_coordinators(session, pause, TALK, now, notify) > 0


async def paused_people(
    session: AsyncSession, group_id: int, now: datetime
) -> list[tuple[Person, Pause]]:
    """Members on a pause with their pause, by first name."""
    rows = await session.execute(
        select(Person, Pause)
        .join(Pause, Pause.person_id == Person.id)
        .where(Pause.group_id == group_id, Person.is_member.is_(True), active_pause_filter(now))
        .order_by(Person.first_name, Person.id)
    )
    return [(person, pause) for person, pause in rows.all()]


async def due_checkins(session: AsyncSession, group_id: int, now: datetime) -> list[int]:
    """Ids of running pauses whose coordinator check-in reminder is due."""
    rows = await session.scalars(
        select(Pause.id).where(
            Pause.group_id == group_id, active_pause_filter(now), Pause.next_checkin_at <= now
        )
    )
    return list(rows)


async def due_questions(session: AsyncSession, group_id: int, now: datetime) -> list[int]:
    """Ids of running pauses whose volunteer should be asked whether they are ready."""
    rows = await session.scalars(
        select(Pause.id).where(
            Pause.group_id == group_id, active_pause_filter(now), Pause.ask_at <= now
        )
    )
    return list(rows)


async def claim_checkin(
    session: AsyncSession,
    pause_id: int,
    now: datetime,
    *,
    rhythm: Rhythm,
    tz: ZoneInfo,
    notify: Sequence[int] = (),
) -> Pause | None:
    """Move the check-in to the next rhythm date after now (missed ones collapse into one)
    and promise the coordinators `notify` the reminder. Returns the pause when it was still
    due, else None (another pass had it)."""
    pause = await session.get(Pause, pause_id)
    if pause is None or pause.ended_at is not None or pause.next_checkin_at is None:
        return None
    if pause.next_checkin_at > now:
        return None
    pause.next_checkin_at = _after(now, rhythm.checkin_every, tz)
    await session.flush()
    await tell_coordinators(session, pause, CHECKIN, now, notify)
    return pause


async def claim_question(
    session: AsyncSession, pause_id: int, now: datetime, *, rhythm: Rhythm, tz: ZoneInfo
) -> Pause | None:
    """Mark the readiness question as asked and promise it to the volunteer: it comes again
    only after the open-ended span (never more often), unless the volunteer answers first."""
    pause = await session.get(Pause, pause_id)
    if pause is None or pause.ended_at is not None or pause.ask_at is None:
        return None
    if pause.ask_at > now:
        return None
    pause.ask_at = _after(now, rhythm.open_ended_ask_after, tz)
    await session.flush()
    await outbox.enqueue(session, pause.group_id, QUESTION, pause.id, pause.person_id, now)
    return pause


def affected_horizon(now: datetime, until: datetime | None, tz: ZoneInfo) -> timedelta:
    """The meetings a pause touches: those up to the end of its planned last day (it does
    not end by itself that morning), at most four weeks ahead."""
    four_weeks = timedelta(weeks=4)
    if until is None:
        return four_weeks
    day_after = datetime.combine(until.astimezone(tz).date() + timedelta(days=1), time(0), tz)
    return max(min(day_after - now, four_weeks), timedelta(0))


def cover_wanted(matches: Sequence[PersonMatch]) -> bool:
    """When the coordinator sets a pause, a temporary volunteer is wanted for every citizen
    the volunteer meets (an activity goes on without them)."""
    return any(m.kind == "match" for m in matches)


async def find_pause(session: AsyncSession, pause_id: int) -> Pause | None:
    return await session.get(Pause, pause_id)
