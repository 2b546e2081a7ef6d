"""The coordinator's overview, temporary covers during a pause, and endings."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import people
from bot.domain.matches.core import (
    PENDING,
    REGULAR,
    SKIPPED,
    TEMPORARY,
    MatchError,
    _rearm_future,
    arm_reminders,
)
from bot.domain.matches.occurrences import (
    Change,
    active_volunteers_of,
)
from storage.models import (
    Match,
    MatchOccurrence,
    MatchVolunteer,
    Pause,
    Person,
    ReminderDelivery,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MatchVolunteerView:
    person_id: int
    first_name: str
    role: str
    paused: bool
    # On a pause, asked for a temporary volunteer, and none has been found for this match.
    asks_cover: bool = False
    # Left the group (kept until the retention period ends): can no longer meet anyone.
    left: bool = False

    @property
    def can_meet(self) -> bool:
        return not self.paused and not self.left


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
        """No volunteer on it who can meet (not on a pause, still in the group; temporary
        covers count), or a paused volunteer asked for a temporary volunteer and none has
        been found yet."""
        return not any(v.can_meet for v in self.volunteers) or self.asked_for_cover

    @property
    def asked_for_cover(self) -> bool:
        return any(v.asks_cover for v in self.volunteers)


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
    # Pauses whose volunteer asked for a temporary volunteer, and the matches that have one.
    wanting: dict[int, int] = dict(
        (person_id, pause_id)
        for person_id, pause_id in await session.execute(
            select(Pause.person_id, Pause.id).where(
                Pause.group_id == group_id, people.active_pause_filter(now), Pause.wants_cover
            )
        )
    )
    rows = await session.execute(
        select(
            MatchVolunteer.match_id,
            Person.id,
            Person.first_name,
            MatchVolunteer.role,
            MatchVolunteer.until_pause_id,
            Person.is_member,
        )
        .join(Person, Person.id == MatchVolunteer.person_id)
        .join(Match, Match.id == MatchVolunteer.match_id)
        .where(*running, MatchVolunteer.ended_at.is_(None))
        .order_by(MatchVolunteer.id)
    )
    found = list(rows)
    covered = {(match_id, pause_id) for match_id, _, _, _, pause_id, _ in found if pause_id}
    volunteers: dict[int, list[MatchVolunteerView]] = defaultdict(list)
    for match_id, person_id, first_name, role, _pause_id, is_member in found:
        asks = person_id in wanting and (match_id, wanting[person_id]) not in covered
        volunteers[match_id].append(
            MatchVolunteerView(
                person_id, first_name, role, person_id in paused, asks, left=not is_member
            )
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
    """A volunteer added by /cover: for the time of a pause (`paused`, `pause`), or for
    good when nobody on the match is in the group any more (both None)."""

    match: Match
    volunteer: Person
    paused: Person | None
    pause: Pause | None


async def add_cover(
    session: AsyncSession,
    group_id: int,
    match_id: int,
    person_id: int,
    now: datetime,
    tz: ZoneInfo,
    *,
    take_over: bool = False,
) -> Cover:
    """A temporary volunteer for a match while one of its volunteers is on a pause; it
    ends by itself when that pause ends. With `take_over` (the coordinator's /cover), a
    match whose volunteers all left the group (or were forgotten) needs no pause for that:
    the person takes it over for good."""
    match = await session.get(Match, match_id)
    if match is None or match.group_id != group_id or match.ended_at is not None:
        raise MatchError("not_found")
    volunteers = await active_volunteers_of(session, match.id)
    if person_id in {p.id for p in volunteers}:
        raise MatchError("already_on_match")
    if await people.current_pause(session, person_id, now) is not None:
        raise MatchError("cover_is_paused")
    if take_over and not any(p.is_member for p in volunteers):
        return await _take_over(session, group_id, match, person_id, now, tz)
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


async def _take_over(
    session: AsyncSession,
    group_id: int,
    match: Match,
    person_id: int,
    now: datetime,
    tz: ZoneInfo,
) -> Cover:
    """A new regular volunteer for a match nobody in the group is on; the places of those
    who left end here (their rows go with them after the retention period)."""
    await session.execute(
        update(MatchVolunteer)
        .where(MatchVolunteer.match_id == match.id, MatchVolunteer.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    session.add(
        MatchVolunteer(
            group_id=group_id, match_id=match.id, person_id=person_id, role=REGULAR, added_at=now
        )
    )
    await session.flush()
    await _rearm_future(session, now, match_ids=[match.id])
    await arm_reminders(session, group_id, now, tz)
    return Cover(match, await session.get_one(Person, person_id), None, None)


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
