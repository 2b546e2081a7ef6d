"""Who came to the volunteer meeting: the coordinator's checklist after it, and what it
saved. Without a saved checklist, those who said yes to the chosen date in the poll came.

Plain async functions on the caller's session; no commits, no wall clock, no texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import meeting as meetings
from bot.domain import people
from storage.models import Person
from storage.models.meeting import Meeting
from storage.models.minutes import Attendance, AttendanceCheck

# The checklist goes to the coordinator this long after the meeting starts...
CHECKLIST_AFTER = timedelta(hours=2)
# ...and not at all when found later than this (the bot was down for long).
CHECKLIST_GRACE = timedelta(days=3)


async def meeting_for_checklist(
    session: AsyncSession, group_id: int, now: datetime
) -> Meeting | None:
    """The latest decided meeting that ended (start + 2 h) and has had no checklist yet."""
    meeting = await meetings.latest_decided_meeting(session, group_id, now - CHECKLIST_AFTER)
    if meeting is None:
        return None
    claimed = await session.scalar(
        select(AttendanceCheck.id).where(AttendanceCheck.meeting_id == meeting.id)
    )
    return None if claimed else meeting


async def claim_checklist(session: AsyncSession, meeting: Meeting, now: datetime) -> str:
    """Claim the meeting's checklist: "sent" (send it now) or "skipped" (found too late).
    A second claim of the same meeting fails with IntegrityError when flushed/committed."""
    assert meeting.starts_at is not None
    late = now - (meeting.starts_at + CHECKLIST_AFTER) > CHECKLIST_GRACE
    outcome = "skipped" if late else "sent"
    session.add(
        AttendanceCheck(
            group_id=meeting.group_id, meeting_id=meeting.id, claimed_at=now, outcome=outcome
        )
    )
    await session.flush()
    return outcome


@dataclass(frozen=True)
class ChecklistRow:
    person_id: int
    first_name: str
    present: bool


async def checklist(
    session: AsyncSession, meeting: Meeting, now: datetime
) -> tuple[list[ChecklistRow], bool]:
    """One row per active volunteer, ticked as saved, or else as they answered the poll.
    Also says whether attendance was saved already."""
    saved = await recorded_attendance(session, meeting.id)
    ticked = (
        {pid for pid, present in saved.items() if present}
        if saved is not None
        else await meetings.yes_person_ids(session, meeting.id)
    )
    rows = [
        ChecklistRow(p.id, p.first_name, p.id in ticked)
        for p in await people.active_volunteers(session, meeting.group_id, now)
    ]
    return rows, saved is not None


async def recorded_attendance(session: AsyncSession, meeting_id: int) -> dict[int, bool] | None:
    """Person id -> present, as the coordinator saved it; None when never saved."""
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
    """Replace the meeting's attendance with the coordinator's marks."""
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
                outcome="sent",
                saved_at=now,
            )
        )
    else:
        check.saved_at = now
    await session.flush()


async def present_person_ids(session: AsyncSession, meeting_id: int) -> set[int]:
    """Who came: as recorded, or else those who said yes to the chosen date."""
    saved = await recorded_attendance(session, meeting_id)
    if saved is None:
        return await meetings.yes_person_ids(session, meeting_id)
    return {pid for pid, present in saved.items() if present}
