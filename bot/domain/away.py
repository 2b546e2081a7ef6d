"""The coordinator's stand-in (`/away <from> <to> @stand_in`): during a period, what would
go to a coordinator goes to the stand-in, who has the coordinator's everyday rights but
never the rights over people's data.

The one place that knows: `route` says who gets a coordinator's message now (and when),
`can_act_as_coordinator` who may act as one. Everything else asks these two, so plugging
in another source of "the coordinators of this group" is a change here only.

A period is a row: from local midnight of the first day to local midnight after the last
(right across daylight saving), or until ended early. The coordinator's summary is an
outbox item due at the period's end (moved to now when it is ended early), rendered when
it is sent, so a restart in the middle loses nothing. A volunteer may let a pause wait
for the coordinator: its notices are then promised to the coordinator at the period's end,
never to the stand-in.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import groups, outbox
from bot.domain.localtime import local_to_utc, local_today
from bot.domain.typed_dates import last_allowed_day, parse_day
from storage.models import Pause, Person
from storage.models.away import AwayHeldPause, CoordinatorAway
from storage.models.outbox import DONE, OutboxItem

# The coordinator's summary at the period's end (an outbox kind).
SUMMARY = "away_summary"
# What the pause tells a coordinator (bot.domain.pause's kinds; named here, since that
# module asks this one who gets them).
PAUSE_NOTICES = ("pause_started", "pause_longer", "pause_back", "pause_talk", "pause_checkin")
MAX_DAYS = 366
# How long after a period a button the stand-in got then is answered with "the coordinator
# is back" rather than "only the coordinator".
LATE_TAPS = timedelta(days=60)
# The summary offers cover for at most this many pauses (the rest: /matches).
OPEN_PAUSES_SHOWN = 10


class PeriodProblem(StrEnum):
    UNREADABLE = "unreadable"
    IN_THE_PAST = "in_the_past"
    BACKWARDS = "backwards"
    TOO_LONG = "too_long"
    TOO_FAR = "too_far"  # past `last_allowed_day`: a typing mistake, not a plan


def parse_period(first: str, last: str, today: date) -> tuple[date, date] | PeriodProblem:
    """Two typed dates (`typed_dates`: 20.12, 20/12, 20.12.2026, ISO), the last day
    included; from today at the earliest, at most a year."""
    start, end = parse_day(first, today), parse_day(last, today)
    if start is None or end is None:
        return PeriodProblem.UNREADABLE
    if start < today or end < today:
        return PeriodProblem.IN_THE_PAST
    if end < start:
        return PeriodProblem.BACKWARDS
    if end > last_allowed_day(today):
        return PeriodProblem.TOO_FAR
    if (end - start).days >= MAX_DAYS:
        return PeriodProblem.TOO_LONG
    return start, end


def effective_end(away: CoordinatorAway) -> datetime:
    return away.ended_at if away.ended_at is not None else away.ends_at


def last_day(away: CoordinatorAway, tz: ZoneInfo) -> date:
    """The period's last local day (the end is the midnight after it)."""
    return local_today(effective_end(away) - timedelta(seconds=1), tz)


def first_day(away: CoordinatorAway, tz: ZoneInfo) -> date:
    return local_today(away.starts_at, tz)


def _running(now: datetime) -> ColumnElement[bool]:
    return and_(
        CoordinatorAway.starts_at <= now,
        CoordinatorAway.ends_at > now,
        or_(CoordinatorAway.ended_at.is_(None), CoordinatorAway.ended_at > now),
    )


def _not_over(now: datetime) -> ColumnElement[bool]:
    """Running or planned."""
    return and_(
        CoordinatorAway.ends_at > now,
        or_(CoordinatorAway.ended_at.is_(None), CoordinatorAway.ended_at > now),
    )


async def current_or_planned(
    session: AsyncSession, group_id: int, coordinator_id: int, now: datetime
) -> CoordinatorAway | None:
    """The coordinator's period that is running, or else the next planned one."""
    return await session.scalar(
        select(CoordinatorAway)
        .where(
            CoordinatorAway.group_id == group_id,
            CoordinatorAway.coordinator_id == coordinator_id,
            _not_over(now),
        )
        .order_by(CoordinatorAway.starts_at)
        .limit(1)
    )


async def running_for(
    session: AsyncSession, group_id: int, coordinator_id: int, now: datetime
) -> CoordinatorAway | None:
    return await session.scalar(
        select(CoordinatorAway)
        .where(
            CoordinatorAway.group_id == group_id,
            CoordinatorAway.coordinator_id == coordinator_id,
            _running(now),
        )
        .limit(1)
    )


class Overlaps(Exception):
    """The coordinator already has a period running or planned."""


async def set_away(
    session: AsyncSession,
    group_id: int,
    coordinator_id: int,
    stand_in_id: int,
    days: tuple[date, date],
    tz: ZoneInfo,
    now: datetime,
) -> CoordinatorAway:
    """A period away, from local midnight of the first day until local midnight after the
    last; the coordinator's summary is promised for its end."""
    if await current_or_planned(session, group_id, coordinator_id, now) is not None:
        raise Overlaps
    away = CoordinatorAway(
        group_id=group_id,
        coordinator_id=coordinator_id,
        stand_in_id=stand_in_id,
        starts_at=local_to_utc(days[0], time(0), tz),
        ends_at=local_to_utc(days[1] + timedelta(days=1), time(0), tz),
        ended_at=None,
        created_at=now,
    )
    session.add(away)
    await session.flush()
    await outbox.enqueue(session, group_id, SUMMARY, away.id, coordinator_id, away.ends_at)
    return away


async def end_early(session: AsyncSession, away: CoordinatorAway, now: datetime) -> None:
    """The coordinator is back (or a planned period is called off): the summary and the
    notices that waited for the coordinator are due now."""
    away.ended_at = now
    held = select(AwayHeldPause.pause_id).where(AwayHeldPause.away_id == away.id)
    await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.group_id == away.group_id,
            OutboxItem.person_id == away.coordinator_id,
            OutboxItem.state != DONE,
            OutboxItem.due_at > now,
            or_(
                and_(OutboxItem.kind == SUMMARY, OutboxItem.subject_id == away.id),
                and_(OutboxItem.kind.in_(PAUSE_NOTICES), OutboxItem.subject_id.in_(held)),
            ),
        )
        .values(due_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.flush()


async def find(session: AsyncSession, away_id: int) -> CoordinatorAway | None:
    return await session.get(CoordinatorAway, away_id)


# Who gets a coordinator's message, who may act as one -------------------------------------


@dataclass(frozen=True)
class Recipient:
    """Who gets a coordinator's message, and from when (later: it waits for the period's
    end). `person_id` is None for a coordinator the bot has no row for yet."""

    telegram_user_id: int
    person_id: int | None
    due_at: datetime
    stand_in: bool = False


async def route(
    session: AsyncSession,
    group_id: int,
    coordinator_user_ids: Collection[int],
    now: datetime,
    *,
    pause_id: int | None = None,
) -> list[Recipient]:
    """Who gets what would go to each coordinator now: the coordinator, or during their
    period the stand-in; about a pause that waits for the coordinator, the coordinator
    at the period's end. Each person once."""
    waiting = await held_periods(session, pause_id) if pause_id is not None else set()
    pause = await session.get(Pause, pause_id) if pause_id is not None else None
    found: dict[int, Recipient] = {}
    for user_id in coordinator_user_ids:
        coordinator = await session.scalar(
            select(Person).where(Person.group_id == group_id, Person.telegram_user_id == user_id)
        )
        away = (
            await running_for(session, group_id, coordinator.id, now)
            if coordinator is not None
            else None
        )
        chosen = Recipient(user_id, coordinator.id if coordinator else None, now)
        # A stand-in's own pause is never told to themselves: it waits for the coordinator.
        if away is not None and (
            away.id in waiting or (pause is not None and pause.person_id == away.stand_in_id)
        ):
            chosen = Recipient(user_id, away.coordinator_id, effective_end(away))
        elif away is not None:
            stand_in = await session.get(Person, away.stand_in_id)
            if stand_in is not None:
                chosen = Recipient(stand_in.telegram_user_id, stand_in.id, now, stand_in=True)
        found.setdefault(chosen.telegram_user_id, chosen)
    return list(found.values())


async def recipients_for_coordinator_messages(
    session: AsyncSession,
    group_id: int,
    coordinator_user_ids: Collection[int] | None,
    now: datetime,
) -> list[int]:
    """The Telegram ids that get a coordinator's message now (see `route`); the group's
    coordinators are `groups.coordinators_now` when not given."""
    if coordinator_user_ids is None:
        coordinator_user_ids = await groups.coordinators_now(session, group_id, now)
    return [r.telegram_user_id for r in await route(session, group_id, coordinator_user_ids, now)]


async def standing_in(
    session: AsyncSession, group_id: int, user_id: int, now: datetime
) -> CoordinatorAway | None:
    """The running period in which this person (a Telegram id) is the stand-in."""
    return await session.scalar(
        select(CoordinatorAway)
        .join(Person, Person.id == CoordinatorAway.stand_in_id)
        .where(
            CoordinatorAway.group_id == group_id,
            Person.telegram_user_id == user_id,
            _running(now),
        )
        .limit(1)
    )


async def can_act_as_coordinator(
    session: AsyncSession,
    group_id: int,
    user_id: int,
    coordinator_user_ids: Collection[int] | None,
    now: datetime,
) -> bool:
    """The coordinator's everyday rights (cover, pauses, meetings, broadcasts): a
    coordinator (`groups.coordinators_now` when not given), or a stand-in during the
    period. Never the rights over people's data: those ask for a coordinator only."""
    if coordinator_user_ids is None:
        coordinator_user_ids = await groups.coordinators_now(session, group_id, now)
    if user_id in coordinator_user_ids:
        return True
    return await standing_in(session, group_id, user_id, now) is not None


async def may_receive(
    session: AsyncSession,
    person: Person,
    coordinator_user_ids: Collection[int],
    at: datetime,
) -> bool:
    """Whether a coordinator's message promised at `at` may go to this person: a
    coordinator, or the stand-in of a period running then."""
    if person.telegram_user_id in coordinator_user_ids:
        return True
    found = await session.scalar(
        select(CoordinatorAway.id)
        .where(CoordinatorAway.stand_in_id == person.id, _running(at))
        .limit(1)
    )
    return found is not None


async def stood_in_lately(
    session: AsyncSession, group_id: int, user_id: int, now: datetime
) -> CoordinatorAway | None:
    """The period, over by now and ended within `LATE_TAPS`, in which this person (a
    Telegram id) was the stand-in: a button they got then is tapped late."""
    return await session.scalar(
        select(CoordinatorAway)
        .join(Person, Person.id == CoordinatorAway.stand_in_id)
        .where(
            CoordinatorAway.group_id == group_id,
            Person.telegram_user_id == user_id,
            or_(
                and_(CoordinatorAway.ended_at.is_(None), CoordinatorAway.ends_at <= now),
                CoordinatorAway.ended_at <= now,
            ),
            CoordinatorAway.ends_at > now - LATE_TAPS,
        )
        .order_by(CoordinatorAway.ends_at.desc())
        .limit(1)
    )


async def reader(
    session: AsyncSession,
    group_id: int,
    person: Person,
    coordinator_user_ids: Collection[int],
    at: datetime,
    now: datetime,
) -> Person | None:
    """Who reads, now, a coordinator's message promised to `person` at `at`: the person,
    if a coordinator or the stand-in of a period running then; once that person's period
    is over, the coordinator they stood in for (or that coordinator's stand-in, if away
    again), so an answer that comes late is never lost; else nobody."""
    if await may_receive(session, person, coordinator_user_ids, at):
        return person
    period = await stood_in_lately(session, group_id, person.telegram_user_id, at)
    if period is None:
        return None
    coordinator = await session.get(Person, period.coordinator_id)
    if coordinator is None or coordinator.telegram_user_id not in coordinator_user_ids:
        return None
    for recipient in await route(session, group_id, [coordinator.telegram_user_id], now):
        if recipient.person_id is not None:
            return await session.get(Person, recipient.person_id)
    return None


async def running_stand_ins(
    session: AsyncSession, group_id: int, coordinator_user_ids: Collection[int], now: datetime
) -> list[tuple[Person, CoordinatorAway]]:
    """The stand-ins who read a coordinator's messages now, with their periods (what a
    volunteer asking for a pause is told)."""
    found = []
    for recipient in await route(session, group_id, coordinator_user_ids, now):
        if recipient.stand_in and recipient.person_id is not None:
            stand_in = await session.get(Person, recipient.person_id)
            away = await session.scalar(
                select(CoordinatorAway).where(
                    CoordinatorAway.stand_in_id == recipient.person_id,
                    CoordinatorAway.group_id == group_id,
                    _running(now),
                )
            )
            if stand_in is not None and away is not None:
                found.append((stand_in, away))
    return found


# Pauses that wait for the coordinator -----------------------------------------------------


async def wait_for_coordinator(
    session: AsyncSession, group_id: int, pause_id: int, now: datetime
) -> int:
    """The volunteer chose to wait: the pause's notices skip the stand-ins of every
    running period. Returns how many periods it waits for."""
    rows = await session.scalars(
        select(CoordinatorAway.id).where(CoordinatorAway.group_id == group_id, _running(now))
    )
    count = 0
    for away_id in rows:
        session.add(AwayHeldPause(pause_id=pause_id, away_id=away_id))
        count += 1
    await session.flush()
    return count


async def held_periods(session: AsyncSession, pause_id: int) -> set[int]:
    rows = await session.scalars(
        select(AwayHeldPause.away_id).where(AwayHeldPause.pause_id == pause_id)
    )
    return set(rows)


# The summary at the end ------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What happened while the coordinator was away: counts, and names only where the
    coordinator has something to do."""

    stand_in: str | None  # first name; None once forgotten
    first_day: date
    last_day: date
    passed_on: int  # messages that went to the stand-in
    pauses_started: int
    pauses_ended: int
    still_paused: list[str] = field(default_factory=list)  # started meanwhile: check in
    want_to_talk: list[str] = field(default_factory=list)
    waited: list[str] = field(default_factory=list)  # their notices come to you now
    # Pauses going on at the end (ids, oldest first): what may still need cover.
    open_pauses: list[int] = field(default_factory=list)


async def summary(session: AsyncSession, away: CoordinatorAway, tz: ZoneInfo) -> Summary:
    start, end = away.starts_at, effective_end(away)
    stand_in = await session.get(Person, away.stand_in_id)
    passed_on = await session.scalar(
        select(func.count())
        .select_from(OutboxItem)
        .where(
            OutboxItem.person_id == away.stand_in_id,
            OutboxItem.kind.in_(PAUSE_NOTICES),
            OutboxItem.outcome == outbox.SENT,
            OutboxItem.due_at >= start,
            OutboxItem.due_at < end,
        )
    )
    started = list(
        await session.execute(
            select(Pause, Person)
            .join(Person, Person.id == Pause.person_id)
            .where(Pause.group_id == away.group_id, Pause.started_at >= start)
            .where(Pause.started_at < end)
            .order_by(Person.first_name, Pause.id)
        )
    )
    ended = await session.scalar(
        select(func.count())
        .select_from(Pause)
        .where(Pause.group_id == away.group_id, Pause.ended_at >= start, Pause.ended_at < end)
    )
    talk = await session.scalars(
        select(Person.first_name)
        .join(Pause, Pause.person_id == Person.id)
        .join(OutboxItem, OutboxItem.subject_id == Pause.id)
        .where(
            OutboxItem.kind == "pause_talk",
            OutboxItem.person_id == away.stand_in_id,
            OutboxItem.due_at >= start,
            OutboxItem.due_at < end,
            Pause.ended_at.is_(None),
        )
        .distinct()
    )
    waited = await session.scalars(
        select(Person.first_name)
        .join(Pause, Pause.person_id == Person.id)
        .join(AwayHeldPause, AwayHeldPause.pause_id == Pause.id)
        .where(AwayHeldPause.away_id == away.id)
        .order_by(Person.first_name)
    )
    open_pauses = await session.scalars(
        select(Pause.id)
        .where(Pause.group_id == away.group_id, Pause.started_at < end)
        .where(Pause.ended_at.is_(None))
        .order_by(Pause.started_at, Pause.id)
        .limit(OPEN_PAUSES_SHOWN)
    )
    return Summary(
        stand_in=stand_in.first_name if stand_in is not None else None,
        first_day=first_day(away, tz),
        last_day=last_day(away, tz),
        passed_on=int(passed_on or 0),
        pauses_started=len(started),
        pauses_ended=int(ended or 0),
        still_paused=[p.first_name for pause, p in started if pause.ended_at is None],
        want_to_talk=sorted(set(talk)),
        waited=list(waited),
        open_pauses=list(open_pauses),
    )
