"""The monthly volunteer meeting: settings, the date poll and its answers, the decision,
the reminders; and the coordinator's other polls. Plain async functions; the caller's
session commits. Date arithmetic lives in `bot.domain.meeting_dates`.

Statuses of a meeting: "opening" (its poll promised: an outbox item of kind `POLL`),
"open" (poll in the group), "closed" (poll stopped, no date yet, or its post perhaps lost:
the coordinator chooses), "decided".
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import meeting_dates as dates
from bot.domain import outbox, people
from storage.models import Pause, Person
from storage.models.meeting import (
    GroupPoll,
    Meeting,
    MeetingAnswer,
    MeetingOption,
    MeetingSetting,
)
from storage.models.outbox import PENDING, OutboxItem

OPENING, OPEN, CLOSED, DECIDED = "opening", "open", "closed", "decided"
# The outbox kind of the date poll's post in the group (subject: the meeting). At most
# once: never two polls; a post whose fate is unknown leaves the meeting to the coordinator.
POLL = "meeting_poll"
# The outbox kind of closing a coordinator's other poll (`/poll`) and sending them its
# result (subject: the poll's row), due when it closes; at least once.
GROUP_POLL = "group_poll"

# Settings the coordinator can change, in the order they are shown.
SETTING_KEYS = ("slots", "place", "count", "opens", "days", "reminders")


@dataclass(frozen=True)
class MeetingConfig:
    slots: list[dates.Slot]
    place: str
    count: int
    opening: dates.PollOpening
    poll_days: int
    leads: list[dates.Lead]
    duration: timedelta


def normalise_setting(key: str, value: str) -> str:
    """The stored form of a setting; ValueError when it can't be understood."""
    value = value.strip()
    if key == "slots":
        return ", ".join(str(s) for s in dates.parse_slots(value))
    if key == "place":
        if len(value) > 200:
            raise ValueError("place too long")
        return value
    if key == "count":
        return str(dates.parse_positive(value, maximum=dates.MAX_CANDIDATES))
    if key == "opens":
        return str(dates.parse_poll_opening(value))
    if key == "days":
        return str(dates.parse_positive(value, maximum=28))
    if key == "reminders":
        return ", ".join(str(lead) for lead in dates.parse_leads(value))
    raise KeyError(key)


def build_config(values: Mapping[str, str], duration_minutes: int) -> MeetingConfig:
    return MeetingConfig(
        slots=dates.parse_slots(values["slots"]),
        place=values["place"],
        count=int(values["count"]),
        opening=dates.parse_poll_opening(values["opens"]),
        poll_days=int(values["days"]),
        leads=dates.parse_leads(values["reminders"]),
        duration=timedelta(minutes=duration_minutes),
    )


async def setting_values(
    session: AsyncSession, group_id: int, defaults: Mapping[str, str]
) -> dict[str, str]:
    """Every setting: what the coordinator chose, else the default from `.env`."""
    rows = await session.scalars(select(MeetingSetting).where(MeetingSetting.group_id == group_id))
    chosen = {row.key: row.value for row in rows}
    return {key: chosen.get(key, str(defaults[key])) for key in SETTING_KEYS}


async def load_config(
    session: AsyncSession, group_id: int, defaults: Mapping[str, str], duration_minutes: int
) -> MeetingConfig:
    return build_config(await setting_values(session, group_id, defaults), duration_minutes)


async def change_setting(session: AsyncSession, group_id: int, key: str, value: str) -> str:
    """Store a new value (validated); returns it as stored. ValueError/KeyError if wrong."""
    stored = normalise_setting(key, value)
    row = await session.scalar(
        select(MeetingSetting).where(MeetingSetting.group_id == group_id, MeetingSetting.key == key)
    )
    if row is None:
        session.add(MeetingSetting(group_id=group_id, key=key, value=stored))
    else:
        row.value = stored
    await session.flush()
    return stored


# Volunteers -------------------------------------------------------------------------------


async def volunteers(
    session: AsyncSession, group_id: int, now: datetime, coordinator_ids: Collection[int]
) -> list[Person]:
    """Active volunteers: members of the group, not on a pause, not the coordinator."""
    return [
        p
        for p in await people.active_volunteers(session, group_id, now)
        if p.telegram_user_id not in coordinator_ids
    ]


async def is_active_volunteer(
    session: AsyncSession, person: Person, now: datetime, coordinator_ids: Collection[int]
) -> bool:
    if not person.is_member or person.telegram_user_id in coordinator_ids:
        return False
    return await people.current_pause(session, person.id, now) is None


# The poll ------------------------------------------------------------------------------------


async def open_meeting(
    session: AsyncSession,
    group_id: int,
    candidates: list[datetime],
    closes_at: datetime,
    place: str,
    now: datetime,
    *,
    schedule_key: str | None = None,
) -> Meeting:
    """A new meeting with its date options (the last option is "none of the days"); with
    dates, its poll's post in the group is promised."""
    meeting = Meeting(
        group_id=group_id,
        schedule_key=schedule_key,
        status=OPENING,
        opened_at=now,
        closes_at=closes_at,
        place=place,
        sequence=0,
    )
    session.add(meeting)
    await session.flush()
    for position, starts_at in enumerate([*candidates, None]):
        session.add(
            MeetingOption(
                group_id=group_id, meeting_id=meeting.id, position=position, starts_at=starts_at
            )
        )
    await session.flush()
    if candidates:
        await outbox.enqueue(session, group_id, POLL, meeting.id, None, now)
    return meeting


async def wanted_poll(session: AsyncSession, meeting_id: int) -> Meeting | None:
    """The meeting whose poll is still to be posted (not refused, not given up)."""
    meeting = await session.get(Meeting, meeting_id)
    return meeting if meeting is not None and meeting.status == OPENING else None


async def attach_poll(
    session: AsyncSession, meeting_id: int, poll_id: str, chat_id: int, message_id: int
) -> None:
    meeting = await session.get_one(Meeting, meeting_id)
    meeting.poll_id, meeting.poll_chat_id, meeting.poll_message_id = poll_id, chat_id, message_id
    meeting.status = OPEN


async def drop_meeting(session: AsyncSession, meeting_id: int) -> None:
    """The poll could not be sent: forget the claim so a later pass can try again."""
    await session.execute(delete(Meeting).where(Meeting.id == meeting_id))


async def give_up_opening(session: AsyncSession, meeting_id: int) -> bool:
    """Posting the poll may or may not have worked: keep the meeting (no second poll) but
    leave it to the coordinator. False when it was no longer being opened."""
    result = await session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.status == OPENING)
        .values(status=CLOSED)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def options(session: AsyncSession, meeting_id: int) -> list[MeetingOption]:
    rows = await session.scalars(
        select(MeetingOption)
        .where(MeetingOption.meeting_id == meeting_id)
        .order_by(MeetingOption.position)
    )
    return list(rows)


async def option_at(session: AsyncSession, meeting_id: int, position: int) -> MeetingOption | None:
    return await session.scalar(
        select(MeetingOption).where(
            MeetingOption.meeting_id == meeting_id, MeetingOption.position == position
        )
    )


async def open_meeting_poll(session: AsyncSession, group_id: int) -> Meeting | None:
    return await session.scalar(
        select(Meeting)
        .where(Meeting.group_id == group_id, Meeting.status == OPEN)
        .order_by(Meeting.id.desc())
    )


@dataclass(frozen=True)
class Ballot:
    """What a vote on a date poll needs, read in one statement (see `ballot`)."""

    meeting: Meeting
    person: Person | None  # None: not (yet) known as a person of the group
    paused: bool  # the person is on a pause now
    answered: bool = True  # they have an answer stored already (False: nothing to replace)


def _ballot_statement() -> Select[Any]:
    """The meeting of a date poll, the voter's row, whether they are on a pause and whether
    they have an answer stored; the values come as parameters (see `ballot`)."""
    on_pause = exists().where(
        Pause.person_id == Person.id, people.active_pause_filter(bindparam("now"))
    )
    answered = exists().where(
        MeetingAnswer.meeting_id == Meeting.id, MeetingAnswer.person_id == Person.id
    )
    return (
        select(Meeting, Person, on_pause, answered)
        .outerjoin(
            Person,
            and_(
                Person.group_id == Meeting.group_id,
                Person.telegram_user_id == bindparam("user_id"),
            ),
        )
        .where(Meeting.group_id == bindparam("group_id"), Meeting.poll_id == bindparam("poll_id"))
    )


# Built once: votes come in crowds, and building it took more CPU than running it.
_BALLOT = _ballot_statement()


async def ballot(
    session: AsyncSession, group_id: int, poll_id: str, user_id: int, now: datetime
) -> Ballot | None:
    """The meeting of a date poll, the voter and whether they are on a pause, in one round
    trip (a vote was three); None for a poll that is not a meeting's."""
    values = {"group_id": group_id, "poll_id": poll_id, "user_id": user_id, "now": now}
    row = (await session.execute(_BALLOT, values)).first()
    if row is None:
        return None
    meeting, person, paused, has_answer = row
    if person is None:
        return Ballot(meeting, None, False, False)
    return Ballot(meeting, person, bool(paused), bool(has_answer))


def counts_as_volunteer(person: Person, paused: bool, coordinator_ids: Collection[int]) -> bool:
    """`is_active_volunteer` with the pause already known."""
    return person.is_member and person.telegram_user_id not in coordinator_ids and not paused


async def month_is_planned(
    session: AsyncSession, group_id: int, year: int, month: int, tz: ZoneInfo
) -> bool:
    """Is there already a poll or a meeting for this month (scheduled or the coordinator's)?"""
    key = dates.month_key(year, month)
    if await session.scalar(
        select(Meeting.id).where(Meeting.group_id == group_id, Meeting.schedule_key == key)
    ):
        return True
    start = dates.local_moment(date(year, month, 1), time(0), tz)
    end = dates.local_moment(date(*dates.next_month(year, month), 1), time(0), tz)
    decided = await session.scalar(
        select(Meeting.id).where(
            Meeting.group_id == group_id, Meeting.starts_at >= start, Meeting.starts_at < end
        )
    )
    offered = await session.scalar(
        select(Meeting.id)
        .join(MeetingOption, MeetingOption.meeting_id == Meeting.id)
        .where(
            Meeting.group_id == group_id,
            Meeting.status.in_((OPENING, OPEN, CLOSED)),
            MeetingOption.starts_at >= start,
            MeetingOption.starts_at < end,
        )
    )
    return bool(decided or offered)


async def record_answer(
    session: AsyncSession,
    meeting: Meeting,
    person_id: int,
    positions: list[int],
    now: datetime,
    *,
    replace: bool = True,
) -> None:
    """Store a person's answer; a changed vote replaces it, an empty one retracts it.
    `replace=False`: they have none stored yet (see `Ballot.answered`), a statement less."""
    if replace:
        await session.execute(
            delete(MeetingAnswer).where(
                MeetingAnswer.meeting_id == meeting.id, MeetingAnswer.person_id == person_id
            )
        )
    if not positions:
        return
    # Core, not the unit of work: votes come in crowds and nothing here reads the rows back.
    await session.execute(
        insert(MeetingAnswer),
        [
            {
                "group_id": meeting.group_id,
                "meeting_id": meeting.id,
                "person_id": person_id,
                "position": position,
                "answered_at": now,
            }
            for position in sorted(set(positions))
        ],
    )


async def answers(session: AsyncSession, meeting_id: int) -> dict[int, set[int]]:
    """Person id -> the positions they ticked."""
    rows = await session.execute(
        select(MeetingAnswer.person_id, MeetingAnswer.position).where(
            MeetingAnswer.meeting_id == meeting_id
        )
    )
    found: dict[int, set[int]] = {}
    for person_id, position in rows:
        found.setdefault(person_id, set()).add(position)
    return found


@dataclass(frozen=True)
class OptionCount:
    position: int
    starts_at: datetime
    yes: int


async def tally(
    session: AsyncSession, meeting_id: int, counted_person_ids: set[int]
) -> list[OptionCount]:
    """How many of the counted people can come on each candidate date."""
    given = await answers(session, meeting_id)
    counts = []
    for option in await options(session, meeting_id):
        if option.starts_at is None:
            continue
        yes = sum(
            1
            for pid, ticked in given.items()
            if pid in counted_person_ids and option.position in ticked
        )
        counts.append(OptionCount(option.position, option.starts_at, yes))
    return counts


def winning_date(counts: list[OptionCount]) -> datetime | None:
    return dates.winner([(c.starts_at, c.yes) for c in counts])


@dataclass(frozen=True)
class Picture:
    """Who can come to the chosen date, who can't, and who hasn't answered."""

    can: list[Person]
    cannot: list[Person]
    unanswered: list[Person]


async def _chosen_position(session: AsyncSession, meeting: Meeting) -> int | None:
    if meeting.starts_at is None:
        return None
    for option in await options(session, meeting.id):
        if option.starts_at == meeting.starts_at:
            return option.position
    return None


async def picture(
    session: AsyncSession, meeting: Meeting, now: datetime, coordinator_ids: Collection[int]
) -> Picture:
    """The active volunteers split by their answer to the meeting's chosen date. If the date
    was not one of the poll's, nobody has said anything about it yet."""
    everyone = await volunteers(session, meeting.group_id, now, coordinator_ids)
    given = await answers(session, meeting.id)
    chosen = await _chosen_position(session, meeting)
    if meeting.starts_at is not None and chosen is None:
        return Picture([], [], everyone)
    can = [p for p in everyone if p.id in given and chosen in given[p.id]]
    cannot = [p for p in everyone if p.id in given and chosen not in given[p.id]]
    unanswered = [p for p in everyone if p.id not in given]
    return Picture(can, cannot, unanswered)


async def nudge_recipients(
    session: AsyncSession, meeting: Meeting, now: datetime, coordinator_ids: Collection[int]
) -> list[Person]:
    """Active volunteers who have not answered the poll."""
    given = await answers(session, meeting.id)
    everyone = await volunteers(session, meeting.group_id, now, coordinator_ids)
    return [p for p in everyone if p.id not in given]


async def due_closings(session: AsyncSession, group_id: int, now: datetime) -> list[Meeting]:
    rows = await session.scalars(
        select(Meeting).where(
            Meeting.group_id == group_id, Meeting.status == OPEN, Meeting.closes_at <= now
        )
    )
    return list(rows)


async def claim_close(session: AsyncSession, meeting_id: int, now: datetime) -> bool:
    """Close the poll in the database before anything is sent; False if already closed."""
    result = await session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.status == OPEN)
        .values(status=CLOSED, closed_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    # A nudge not sent yet no longer makes sense.
    await session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.nudged_at.is_(None))
        .values(nudged_at=now)
    )
    return True


async def decide(
    session: AsyncSession, meeting: Meeting, starts_at: datetime, now: datetime
) -> bool:
    """Fix the meeting's date (first time or a move); its reminders are planned with it
    (`meeting_messages.decide`). Returns True if it was a move of a decided meeting."""
    moved = meeting.status == DECIDED
    if moved:
        meeting.sequence += 1
    meeting.status, meeting.starts_at = DECIDED, starts_at
    if meeting.closed_at is None:
        meeting.closed_at = now
    await session.flush()
    return moved


async def latest_meeting(session: AsyncSession, group_id: int) -> Meeting | None:
    return await session.scalar(
        select(Meeting).where(Meeting.group_id == group_id).order_by(Meeting.id.desc())
    )


async def new_decided_meeting(
    session: AsyncSession, group_id: int, place: str, now: datetime
) -> Meeting:
    """A meeting the coordinator fixes without a poll (`/setmeeting` with nothing open)."""
    meeting = Meeting(group_id=group_id, status=CLOSED, opened_at=now, place=place, sequence=0)
    session.add(meeting)
    await session.flush()
    return meeting


# For the minutes feature ------------------------------------------------------------------


async def latest_decided_meeting(
    session: AsyncSession, group_id: int, now: datetime
) -> Meeting | None:
    """The most recent decided meeting whose time has come."""
    return await session.scalar(
        select(Meeting)
        .where(Meeting.group_id == group_id, Meeting.status == DECIDED, Meeting.starts_at <= now)
        .order_by(Meeting.starts_at.desc())
    )


async def yes_person_ids(session: AsyncSession, meeting_id: int) -> set[int]:
    """Person ids who said yes to the meeting's chosen date in the poll."""
    meeting = await session.get(Meeting, meeting_id)
    if meeting is None:
        return set()
    chosen = await _chosen_position(session, meeting)
    if chosen is None:
        return set()
    rows = await session.scalars(
        select(MeetingAnswer.person_id).where(
            MeetingAnswer.meeting_id == meeting_id, MeetingAnswer.position == chosen
        )
    )
    return set(rows)


# Other polls -------------------------------------------------------------------------------


async def add_group_poll(
    session: AsyncSession,
    group_id: int,
    *,
    poll_id: str,
    chat_id: int,
    message_id: int,
    question: str,
    anonymous: bool,
    now: datetime,
    closes_at: datetime,
) -> GroupPoll:
    poll = GroupPoll(
        group_id=group_id,
        poll_id=poll_id,
        chat_id=chat_id,
        message_id=message_id,
        question=question[:300],
        anonymous=anonymous,
        opened_at=now,
        closes_at=closes_at,
    )
    session.add(poll)
    await session.flush()
    await outbox.enqueue(session, group_id, GROUP_POLL, poll.id, None, closes_at)
    return poll


async def open_group_polls(session: AsyncSession, group_id: int) -> list[GroupPoll]:
    rows = await session.scalars(
        select(GroupPoll)
        .where(GroupPoll.group_id == group_id, GroupPoll.closed_at.is_(None))
        .order_by(GroupPoll.id.desc())
    )
    return list(rows)


async def close_group_poll_now(session: AsyncSession, poll_row_id: int, now: datetime) -> None:
    """`/closepoll`: the poll's closing (promised when it was posted) is due now."""
    await session.execute(
        update(OutboxItem)
        .where(OutboxItem.kind == GROUP_POLL, OutboxItem.subject_id == poll_row_id)
        .where(OutboxItem.state == PENDING, OutboxItem.due_at > now)
        .values(due_at=now)
    )


async def wanted_group_poll(session: AsyncSession, poll_row_id: int) -> GroupPoll | None:
    """The poll, while it is not closed yet."""
    poll = await session.get(GroupPoll, poll_row_id)
    return poll if poll is not None and poll.closed_at is None else None


async def group_poll_closed(session: AsyncSession, poll_row_id: int, now: datetime) -> None:
    await session.execute(
        update(GroupPoll)
        .where(GroupPoll.id == poll_row_id, GroupPoll.closed_at.is_(None))
        .values(closed_at=now)
    )
