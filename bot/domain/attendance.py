"""Who came to the volunteer meeting. Ticked in advance from the poll (those who said yes to
the chosen date), corrected with one tap per person in the minutes' preview, and saved as
ticked when the minutes are sent or a week after the meeting, when the coordinator is
asked once, kindly, for the minutes.

Plain async functions on the caller's session; no commits, no wall clock, no texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import meeting as meetings
from bot.domain import people
from storage.models import Person
from storage.models.meeting import Meeting
from storage.models.minutes import Attendance, AttendanceCheck, Minutes

# The coordinator is asked for the minutes this long after the meeting starts...
QUESTION_AFTER = timedelta(days=7)
# ...and not at all when found later than this (the bot was down for long).
QUESTION_GRACE = timedelta(days=3)
# Minutes sent without a command belong to a meeting held at most this long ago.
RECENT = timedelta(days=35)

# attendance_checks.outcome: attendance saved (ticks or the sent minutes); the week's
# question asked (it is asked once: the claim is this row). Older rows may say "sent" or
# "skipped" (the checklist of earlier versions; see migration 0007d).
SAVED, ASKED = "saved", "asked"
CONFIRMED = "confirmed"  # bot.domain.minutes.CONFIRMED (that module imports this one)


@dataclass(frozen=True)
class Tick:
    person_id: int
    first_name: str
    present: bool


async def ticks(session: AsyncSession, meeting: Meeting) -> list[Tick]:
    """One row per volunteer in the group, ticked as saved, or else as they answered the
    poll."""
    present = await present_person_ids(session, meeting)
    return [
        Tick(p.id, p.first_name, p.id in present)
        for p in await people.volunteers(session, meeting.group_id)
    ]


async def recorded_attendance(session: AsyncSession, meeting_id: int) -> dict[int, bool] | None:
    """Person id -> present, as saved; None when never saved."""
    saved = await session.scalar(
        select(AttendanceCheck.saved_at).where(AttendanceCheck.meeting_id == meeting_id)
    )
    if saved is None:
        return None
    rows = await session.execute(
        select(Attendance.person_id, Attendance.present).where(Attendance.meeting_id == meeting_id)
    )
    return {person_id: present for person_id, present in rows}


async def save_attendance(
    session: AsyncSession, meeting: Meeting, marks: dict[int, bool], now: datetime
) -> None:
    """Replace the meeting's attendance with these marks."""
    await session.execute(delete(Attendance).where(Attendance.meeting_id == meeting.id))
    known = {
        pid
        for pid in await session.scalars(
            select(Person.id).where(Person.group_id == meeting.group_id, Person.id.in_(marks))
        )
    }
    for person_id, present in marks.items():
        if person_id in known:
            session.add(
                Attendance(
                    group_id=meeting.group_id,
                    meeting_id=meeting.id,
                    person_id=person_id,
                    present=present,
                )
            )
    check = await session.scalar(
        select(AttendanceCheck).where(AttendanceCheck.meeting_id == meeting.id)
    )
    if check is None:
        session.add(
            AttendanceCheck(
                group_id=meeting.group_id,
                meeting_id=meeting.id,
                claimed_at=now,
                outcome=SAVED,
                saved_at=now,
            )
        )
    else:
        check.saved_at = now
    await session.flush()


async def keep_as_ticked(session: AsyncSession, meeting: Meeting, now: datetime) -> None:
    """Save the attendance as it is ticked now (from the poll if nobody changed it)."""
    marks = {t.person_id: t.present for t in await ticks(session, meeting)}
    await save_attendance(session, meeting, marks, now)


async def toggle(session: AsyncSession, meeting: Meeting, person_id: int, now: datetime) -> bool:
    """One tap on a name: came <-> couldn't come. False when not one of the volunteers."""
    marks = {t.person_id: t.present for t in await ticks(session, meeting)}
    if person_id not in marks:
        return False
    marks[person_id] = not marks[person_id]
    await save_attendance(session, meeting, marks, now)
    return True


async def present_person_ids(session: AsyncSession, meeting: Meeting) -> set[int]:
    """Who came: as recorded, or else those who said yes to the chosen date and were not on
    a pause when it began (a yes given before a pause is no longer a plan to come, and a
    wrong tick would cost them their copy of the minutes)."""
    saved = await recorded_attendance(session, meeting.id)
    if saved is None:
        said_yes = await meetings.yes_person_ids(session, meeting.id)
        return said_yes - await people.paused_person_ids_at(
            session, meeting.group_id, meeting.starts_at
        )
    return {pid for pid, present in saved.items() if present}


# Which meeting the minutes belong to -----------------------------------------------------------


async def awaiting_minutes(session: AsyncSession, group_id: int, now: datetime) -> list[Meeting]:
    """Meetings held lately whose minutes were not sent yet, the newest first."""
    sent = exists().where(Minutes.meeting_id == Meeting.id, Minutes.status == CONFIRMED)
    return list(
        await session.scalars(
            select(Meeting)
            .where(Meeting.group_id == group_id, Meeting.status == meetings.DECIDED, ~sent)
            .where(Meeting.starts_at <= now, Meeting.starts_at > now - RECENT)
            .order_by(Meeting.starts_at.desc())
        )
    )


async def minutes_sent(session: AsyncSession, meeting_id: int) -> bool:
    found = await session.scalar(
        select(Minutes.id).where(Minutes.meeting_id == meeting_id, Minutes.status == CONFIRMED)
    )
    return found is not None


# The week's question -----------------------------------------------------------------------


async def meeting_for_question(
    session: AsyncSession, group_id: int, now: datetime
) -> Meeting | None:
    """The latest meeting held a week ago or more whose minutes never came, if the
    coordinator was not asked about it yet."""
    meeting = await meetings.latest_decided_meeting(session, group_id, now - QUESTION_AFTER)
    if meeting is None or await minutes_sent(session, meeting.id):
        return None
    asked = await session.scalar(
        select(AttendanceCheck.id).where(
            AttendanceCheck.meeting_id == meeting.id, AttendanceCheck.outcome != SAVED
        )
    )
    return None if asked else meeting


async def claim_question(session: AsyncSession, meeting: Meeting, now: datetime) -> bool:
    """Claim the week's question about this meeting: True to ask now, False when found too
    late (the claim is kept: it is never asked). The attendance stands as ticked. A second
    claim fails with IntegrityError when flushed, or changes no row."""
    assert meeting.starts_at is not None
    late = now - (meeting.starts_at + QUESTION_AFTER) > QUESTION_GRACE
    outcome = "skipped" if late else ASKED
    check = await session.scalar(
        select(AttendanceCheck.id).where(AttendanceCheck.meeting_id == meeting.id)
    )
    if check is None:
        session.add(
            AttendanceCheck(
                group_id=meeting.group_id, meeting_id=meeting.id, claimed_at=now, outcome=outcome
            )
        )
        await session.flush()
    else:
        result = await session.execute(
            update(AttendanceCheck)
            .where(AttendanceCheck.id == check, AttendanceCheck.outcome == SAVED)
            .values(outcome=outcome, claimed_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return False
    await keep_as_ticked(session, meeting, now)
    return not late
