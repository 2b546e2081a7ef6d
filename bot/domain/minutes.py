"""Minutes for those who couldn't come, and who came (attendance).

Plain async functions on the caller's session; no commits, no wall clock, no texts.

Who couldn't come: the volunteers the coordinator did not tick as present; without a saved
checklist, every volunteer who did not say yes to the chosen date in the poll.

A copy (`MinutesDelivery`) moves: "pending" -> "sending" (claimed, committed before the
send, with the claiming process's token) -> "sent" | "waiting_unreachable" (never started
the bot, or blocked it: sent on their next /start) | "failed" (after a few tries).
"waiting_paused" copies go out when the volunteer resumes, or when the coordinator says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import meeting as meetings
from bot.domain import people
from storage.models import Person
from storage.models.meeting import Meeting
from storage.models.minutes import Attendance, AttendanceCheck, Minutes, MinutesDelivery

DRAFT, CONFIRMED = "draft", "confirmed"
PENDING, SENDING, SENT = "pending", "sending", "sent"
WAITING_UNREACHABLE, WAITING_PAUSED, FAILED = "waiting_unreachable", "waiting_paused", "failed"
WAITING = (WAITING_UNREACHABLE, WAITING_PAUSED)

# The checklist goes to the coordinator this long after the meeting starts...
CHECKLIST_AFTER = timedelta(hours=2)
# ...and not at all when found later than this (the bot was down for long).
CHECKLIST_GRACE = timedelta(days=3)
# A copy that failed this many times is given up (and shown as such in the report).
MAX_ATTEMPTS = 3
# Drafts the coordinator never confirmed are dropped after this.
DRAFT_LIFETIME = timedelta(days=2)


# Attendance ----------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Recipients:
    """Those who couldn't come, split by whether they are on a pause."""

    active: list[Person]
    paused: list[Person]

    @property
    def everyone(self) -> list[Person]:
        return sorted([*self.active, *self.paused], key=lambda p: (p.first_name, p.id))


async def recipients(session: AsyncSession, meeting: Meeting, now: datetime) -> Recipients:
    """The volunteers who couldn't come (paused ones wait until they are back)."""
    present = await present_person_ids(session, meeting.id)
    paused = await people.paused_person_ids(session, meeting.group_id, now)
    absent = [p for p in await people.volunteers(session, meeting.group_id) if p.id not in present]
    return Recipients(
        active=[p for p in absent if p.id not in paused],
        paused=[p for p in absent if p.id in paused],
    )


# Minutes -------------------------------------------------------------------------------------


async def start_draft(
    session: AsyncSession,
    meeting: Meeting,
    author_user_id: int,
    now: datetime,
    *,
    text: str | None = None,
    file_id: str | None = None,
    file_name: str | None = None,
) -> Minutes:
    """The coordinator's minutes, not yet confirmed. Their earlier drafts are dropped."""
    if (text is None) == (file_id is None):
        raise ValueError("minutes are either a text or a document")
    await session.execute(
        delete(Minutes).where(
            Minutes.group_id == meeting.group_id,
            Minutes.author_user_id == author_user_id,
            Minutes.status == DRAFT,
        )
    )
    minutes = Minutes(
        group_id=meeting.group_id,
        meeting_id=meeting.id,
        status=DRAFT,
        text=text,
        file_id=file_id,
        file_name=file_name,
        author_user_id=author_user_id,
        created_at=now,
    )
    session.add(minutes)
    await session.flush()
    return minutes


async def drop_draft(session: AsyncSession, minutes_id: int) -> bool:
    result = await session.execute(
        delete(Minutes).where(Minutes.id == minutes_id, Minutes.status == DRAFT)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def confirm(session: AsyncSession, minutes_id: int, now: datetime) -> bool:
    """Confirm a draft and create one delivery per person who couldn't come, in the same
    transaction. False when it was confirmed (or dropped) already: a second tap."""
    result = await session.execute(
        update(Minutes)
        .where(Minutes.id == minutes_id, Minutes.status == DRAFT)
        .values(status=CONFIRMED, confirmed_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    minutes = await session.get_one(Minutes, minutes_id)
    meeting = await session.get_one(Meeting, minutes.meeting_id)
    found = await recipients(session, meeting, now)
    for person, status in [(p, PENDING) for p in found.active] + [
        (p, WAITING_PAUSED) for p in found.paused
    ]:
        session.add(
            MinutesDelivery(
                group_id=minutes.group_id,
                minutes_id=minutes.id,
                person_id=person.id,
                status=status,
                attempts=0,
            )
        )
    await session.flush()
    return True


async def set_report_message(
    session: AsyncSession, minutes_id: int, chat_id: int, message_id: int
) -> None:
    minutes = await session.get_one(Minutes, minutes_id)
    minutes.report_chat_id, minutes.report_message_id = chat_id, message_id


async def latest_confirmed(session: AsyncSession, group_id: int) -> Minutes | None:
    return await session.scalar(
        select(Minutes)
        .where(Minutes.group_id == group_id, Minutes.status == CONFIRMED)
        .order_by(Minutes.confirmed_at.desc(), Minutes.id.desc())
    )


# Deliveries ----------------------------------------------------------------------------------


async def release_abandoned_claims(session: AsyncSession, group_id: int, token: str) -> int:
    """Copies claimed by a process that stopped before it could record the outcome: the
    send most likely never happened (it was cut off), so they are sent again."""
    result = await session.execute(
        update(MinutesDelivery)
        .where(
            MinutesDelivery.group_id == group_id,
            MinutesDelivery.status == SENDING,
            MinutesDelivery.claim_token != token,
        )
        .values(status=PENDING, claim_token=None)
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


async def pending_deliveries(
    session: AsyncSession, group_id: int, minutes_id: int | None = None
) -> list[int]:
    query = select(MinutesDelivery.id).where(
        MinutesDelivery.group_id == group_id, MinutesDelivery.status == PENDING
    )
    if minutes_id is not None:
        query = query.where(MinutesDelivery.minutes_id == minutes_id)
    return list(await session.scalars(query.order_by(MinutesDelivery.id)))


async def claim(session: AsyncSession, delivery_id: int, token: str, now: datetime) -> bool:
    """Take a pending copy for sending; False if another pass took it first."""
    result = await session.execute(
        update(MinutesDelivery)
        .where(MinutesDelivery.id == delivery_id, MinutesDelivery.status == PENDING)
        .values(status=SENDING, claim_token=token, claimed_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def record_sent(session: AsyncSession, delivery_id: int, now: datetime) -> None:
    delivery = await session.get_one(MinutesDelivery, delivery_id)
    delivery.status, delivery.sent_at, delivery.claim_token = SENT, now, None


async def record_unreachable(session: AsyncSession, delivery_id: int) -> None:
    delivery = await session.get_one(MinutesDelivery, delivery_id)
    delivery.status, delivery.claim_token = WAITING_UNREACHABLE, None


async def record_failure(session: AsyncSession, delivery_id: int) -> None:
    """Telegram failed; try again on a later pass, a few times."""
    delivery = await session.get_one(MinutesDelivery, delivery_id)
    delivery.attempts += 1
    delivery.status = FAILED if delivery.attempts >= MAX_ATTEMPTS else PENDING
    delivery.claim_token = None


async def wake_waiting(
    session: AsyncSession, person_id: int, statuses: tuple[str, ...]
) -> list[int]:
    """Make a person's waiting copies (of confirmed minutes) pending again."""
    ids = list(
        await session.scalars(
            select(MinutesDelivery.id)
            .join(Minutes, Minutes.id == MinutesDelivery.minutes_id)
            .where(
                MinutesDelivery.person_id == person_id,
                MinutesDelivery.status.in_(statuses),
                Minutes.status == CONFIRMED,
            )
            .order_by(MinutesDelivery.id)
        )
    )
    if ids:
        await session.execute(
            update(MinutesDelivery)
            .where(MinutesDelivery.id.in_(ids))
            .values(status=PENDING, attempts=0)
        )
    return ids


async def wait_for_pause_end(session: AsyncSession, person_id: int) -> int:
    """Someone on a pause started the bot: their copies now wait for the pause to end."""
    result = await session.execute(
        update(MinutesDelivery)
        .where(
            MinutesDelivery.person_id == person_id,
            MinutesDelivery.status.in_((WAITING_UNREACHABLE, FAILED)),
        )
        .values(status=WAITING_PAUSED, attempts=0)
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


async def send_paused_now(session: AsyncSession, minutes_id: int) -> list[int]:
    """The coordinator chose to send to the paused volunteers anyway."""
    ids = list(
        await session.scalars(
            select(MinutesDelivery.id).where(
                MinutesDelivery.minutes_id == minutes_id,
                MinutesDelivery.status == WAITING_PAUSED,
            )
        )
    )
    if ids:
        await session.execute(
            update(MinutesDelivery).where(MinutesDelivery.id.in_(ids)).values(status=PENDING)
        )
    return ids


@dataclass(frozen=True)
class CopyDetails:
    """What sending one copy needs, read in the claiming transaction."""

    delivery_id: int
    minutes_id: int
    person_id: int
    telegram_user_id: int
    language: str
    starts_at: datetime
    text: str | None
    file_id: str | None


async def copy_details(session: AsyncSession, delivery_id: int) -> CopyDetails:
    delivery = await session.get_one(MinutesDelivery, delivery_id)
    minutes = await session.get_one(Minutes, delivery.minutes_id)
    meeting = await session.get_one(Meeting, minutes.meeting_id)
    person = await session.get_one(Person, delivery.person_id)
    assert meeting.starts_at is not None
    return CopyDetails(
        delivery_id=delivery_id,
        minutes_id=minutes.id,
        person_id=person.id,
        telegram_user_id=person.telegram_user_id,
        language=person.language,
        starts_at=meeting.starts_at,
        text=minutes.text,
        file_id=minutes.file_id,
    )


@dataclass(frozen=True)
class Report:
    """Where each copy of one set of minutes stands, with first names."""

    sent: list[str]
    unreachable: list[str]
    paused: list[str]
    failed: list[str]
    in_progress: int


async def report(session: AsyncSession, minutes_id: int) -> Report:
    rows = await session.execute(
        select(MinutesDelivery.status, Person.first_name)
        .join(Person, Person.id == MinutesDelivery.person_id)
        .where(MinutesDelivery.minutes_id == minutes_id)
        .order_by(Person.first_name, Person.id)
    )
    by_status: dict[str, list[str]] = {}
    for status, name in rows:
        by_status.setdefault(status, []).append(name)
    return Report(
        sent=by_status.get(SENT, []),
        unreachable=by_status.get(WAITING_UNREACHABLE, []),
        paused=by_status.get(WAITING_PAUSED, []),
        failed=by_status.get(FAILED, []),
        in_progress=len(by_status.get(PENDING, [])) + len(by_status.get(SENDING, [])),
    )


# Drafts ------------------------------------------------------------------------------------
# (Confirmed minutes and attendance are deleted by the retention job, bot/domain/retention.py:
# MINUTES_RETENTION_MONTHS for minutes with their deliveries.)


async def drop_stale_drafts(session: AsyncSession, group_id: int, now: datetime) -> int:
    """Minutes the coordinator never confirmed are not kept."""
    result = await session.execute(
        delete(Minutes).where(
            Minutes.group_id == group_id,
            Minutes.status == DRAFT,
            Minutes.created_at < now - DRAFT_LIFETIME,
        )
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]
