"""Minutes for those who couldn't come (who came: `bot.domain.attendance`).

Plain async functions on the caller's session; no commits, no wall clock, no texts.

Who couldn't come: the volunteers not ticked as present in the preview (ticked in advance
from the poll: those who said yes to the chosen date). The coordinator sends the minutes
without a command; `looks_like_minutes` tells them from the other things a coordinator
writes to the bot, or says it is unsure (the bot then asks).

Each copy is an outbox item (`bot/domain/outbox.py`, kind "minutes_copy"), enqueued when
the coordinator confirms. One the volunteer can't get yet waits: held while they are on a
pause (sent when it ends, or when the coordinator says so), or, when Telegram couldn't reach
them, sent again on their next /start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import case, delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import attendance, outbox, people
from storage.models import Pause, Person
from storage.models import outbox as box
from storage.models.meeting import Meeting
from storage.models.minutes import Minutes
from storage.models.outbox import OutboxItem

DRAFT, CONFIRMED = "draft", "confirmed"
# The outbox kind of a copy of the minutes.
KIND = "minutes_copy"
# Telegram's answers that mean "not there yet": tried again on the person's next /start.
UNREACHABLE = ("not_started", "blocked")
UNREACHED = (*UNREACHABLE, "failed")

# A copy Telegram failed to take is tried this many times, this far apart.
MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(minutes=10)
# Drafts the coordinator never confirmed are dropped after this.
DRAFT_LIFETIME = timedelta(days=2)


# Who gets them -------------------------------------------------------------------------------


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
    present = await attendance.present_person_ids(session, meeting)
    paused = await people.paused_person_ids(session, meeting.group_id, now)
    absent = [p for p in await people.volunteers(session, meeting.group_id) if p.id not in present]
    return Recipients(
        active=[p for p in absent if p.id not in paused],
        paused=[p for p in absent if p.id in paused],
    )


# Telling minutes from other messages ---------------------------------------------------------

Verdict = Literal["minutes", "unsure", "other"]
# Words that say "these are minutes" (Danish and English).
MINUTES_WORDS = re.compile(r"\b(referat\w*|minutes|dagsorden\w*|agenda)\b", re.IGNORECASE)
# Documents that minutes come in; a picture or an archive is something else.
DOCUMENT_TYPES = re.compile(
    r"^(application/(pdf|msword|rtf|vnd\.openxmlformats-officedocument\.wordprocessingml\..*|"
    r"vnd\.oasis\.opendocument\.text)|text/.*)$"
)
# Shorter than this, on fewer lines, is a chat line ("tak!", a question), never minutes;
# with the word "referat", shorter than MINUTES_AT.
SHORT, FEW_LINES, MINUTES_AT = 80, 3, 40
# Longer than this, or on this many lines, is minutes even without the word.
LONG, MANY_LINES = 400, 6


def looks_like_minutes(text: str) -> Verdict:
    """A text the coordinator sent without a command: minutes, maybe (ask), or something
    else (a thank-you, a question: never taken)."""
    text = text.strip()
    lines = len([line for line in text.splitlines() if line.strip()])
    if len(text) >= LONG or lines >= MANY_LINES:
        return "minutes"
    question = text.endswith("?")
    if MINUTES_WORDS.search(text) and not question and len(text) >= MINUTES_AT:
        return "minutes"
    if len(text) < SHORT and lines < FEW_LINES:
        return "other"
    return "unsure"


def document_looks_like_minutes(mime_type: str | None, file_name: str | None) -> Verdict:
    """A document: a text document is minutes; anything else only maybe."""
    if mime_type and DOCUMENT_TYPES.match(mime_type):
        return "minutes"
    if file_name and MINUTES_WORDS.search(file_name.replace("_", " ").replace("-", " ")):
        return "minutes"
    return "unsure"


# Minutes -------------------------------------------------------------------------------------


async def start_draft(
    session: AsyncSession,
    meeting: Meeting,
    author_id: int,
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
            Minutes.author_id == author_id,
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
        author_id=author_id,
        created_at=now,
    )
    session.add(minutes)
    await session.flush()
    return minutes


async def draft(session: AsyncSession, minutes_id: int) -> Minutes | None:
    """A draft still waiting for the coordinator (None once sent, cancelled or dropped)."""
    found = await session.get(Minutes, minutes_id)
    return found if found is not None and found.status == DRAFT else None


async def move_draft(session: AsyncSession, minutes_id: int, meeting_id: int) -> Minutes | None:
    """The coordinator said which meeting the draft belongs to."""
    found = await draft(session, minutes_id)
    meeting = await session.get(Meeting, meeting_id)
    if found is None or meeting is None or meeting.group_id != found.group_id:
        return None
    found.meeting_id = meeting_id
    await session.flush()
    return found


async def drop_draft(session: AsyncSession, minutes_id: int) -> bool:
    result = await session.execute(
        delete(Minutes).where(Minutes.id == minutes_id, Minutes.status == DRAFT)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def confirm(session: AsyncSession, minutes_id: int, now: datetime) -> bool:
    """Confirm a draft and promise one copy per person who couldn't come (the outbox), in
    the same transaction; those on a pause are held. False when it was confirmed (or
    dropped) already: a second tap."""
    result = await session.execute(
        update(Minutes)
        .where(Minutes.id == minutes_id, Minutes.status == DRAFT)
        .values(status=CONFIRMED, confirmed_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    minutes = await session.get_one(Minutes, minutes_id)
    meeting = await session.get_one(Meeting, minutes.meeting_id)
    # The attendance stands as it was ticked in the preview.
    await attendance.keep_as_ticked(session, meeting, now)
    found = await recipients(session, meeting, now)
    for person in found.everyone:
        await outbox.enqueue(session, minutes.group_id, KIND, minutes.id, person.id, now)
    if found.paused:
        await _hold_waiting(session, minutes.id, [p.id for p in found.paused])
    await session.flush()
    return True


async def forget_author(session: AsyncSession, person_id: int) -> None:
    """The author is being forgotten: the minutes stay, the report's place in their chat
    (their Telegram id) goes; the mention itself is cleared by ON DELETE SET NULL."""
    await session.execute(
        update(Minutes)
        .where(Minutes.author_id == person_id)
        .values(report_chat_id=None, report_message_id=None)
    )


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


# Copies --------------------------------------------------------------------------------------
# Each copy is an outbox item (kind KIND, subject the minutes, person the recipient), sent by
# the one sender in handlers/delivery.py. Held while its person is on a pause.


async def _hold_waiting(session: AsyncSession, minutes_id: int, person_ids: list[int]) -> None:
    await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.kind == KIND,
            OutboxItem.subject_id == minutes_id,
            OutboxItem.person_id.in_(person_ids),
            OutboxItem.state == box.PENDING,
        )
        .values(state=box.HELD)
    )


@dataclass(frozen=True)
class CopyDetails:
    """What sending one copy needs, read in the claiming transaction."""

    minutes_id: int
    person_id: int
    telegram_user_id: int
    language: str
    starts_at: datetime
    text: str | None
    file_id: str | None


async def copy_details(
    session: AsyncSession, minutes_id: int, person_id: int
) -> CopyDetails | None:
    """The copy, if still wanted: its minutes are confirmed and its person is still in the
    group (minutes are the group's own: never to someone who left)."""
    minutes = await session.get(Minutes, minutes_id)
    person = await session.get(Person, person_id)
    if minutes is None or person is None or minutes.status != CONFIRMED:
        return None
    if not person.is_member:
        return None
    meeting = await session.get_one(Meeting, minutes.meeting_id)
    return CopyDetails(
        minutes_id=minutes.id,
        person_id=person.id,
        telegram_user_id=person.telegram_user_id,
        language=person.language,
        starts_at=meeting.starts_at or minutes.created_at,
        text=minutes.text,
        file_id=minutes.file_id,
    )


async def waits_for_pause(
    session: AsyncSession, minutes_id: int, person_id: int, now: datetime
) -> bool:
    """The person is on a pause and the coordinator did not say "send now anyway"."""
    if await session.scalar(select(Minutes.paused_too).where(Minutes.id == minutes_id)):
        return False
    return await people.current_pause(session, person_id, now) is not None


async def retry_for(session: AsyncSession, person_id: int, now: datetime) -> int:
    """Someone (re)started the bot: the copies Telegram couldn't bring them go again now,
    or wait for the end of their pause. Returns how many. One statement: the pause is
    asked inside it (every /start comes here)."""
    paused = exists().where(Pause.person_id == person_id, people.active_pause_filter(now))
    confirmed = select(Minutes.id).where(Minutes.status == CONFIRMED)
    result = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.kind == KIND,
            OutboxItem.person_id == person_id,
            OutboxItem.state == box.DONE,
            OutboxItem.outcome.in_(UNREACHED),
            OutboxItem.subject_id.in_(confirmed),
        )
        .values(
            state=case((paused, box.HELD), else_=box.PENDING),
            due_at=now,
            outcome=None,
            done_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def try_again_later(session: AsyncSession, item_id: int, now: datetime) -> bool:
    """Telegram failed to take a copy: it goes again after a while, a few times, before it
    is reported as not sent. False when given up."""
    result = await session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.attempts < MAX_ATTEMPTS)
        .values(state=box.PENDING, due_at=now + RETRY_AFTER, outcome=None, done_at=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def wake_after_pause(session: AsyncSession, person_id: int, now: datetime) -> int:
    """A pause ended: the person's held copies are due now."""
    return await outbox.wake(session, person_id, now, kinds=(KIND,))


async def wake_ended_pauses(session: AsyncSession, group_id: int, now: datetime) -> int:
    """Copies held for someone no longer on a pause: a safety net beside `pause_ended`
    (e.g. a pause ended by a path that told nobody)."""
    paused = await people.paused_person_ids(session, group_id, now)
    query = update(OutboxItem).where(
        OutboxItem.group_id == group_id, OutboxItem.kind == KIND, OutboxItem.state == box.HELD
    )
    if paused:
        query = query.where(OutboxItem.person_id.not_in(paused))
    result = await session.execute(query.values(state=box.PENDING, due_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def send_paused_now(session: AsyncSession, minutes_id: int, now: datetime) -> int:
    """The coordinator chose to send to the paused volunteers anyway. Returns how many."""
    minutes = await session.get(Minutes, minutes_id)
    if minutes is None:
        return 0  # deleted by retention meanwhile
    minutes.paused_too = True
    result = await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.kind == KIND,
            OutboxItem.subject_id == minutes_id,
            OutboxItem.state == box.HELD,
        )
        .values(state=box.PENDING, due_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


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
        select(OutboxItem.state, OutboxItem.outcome, Person.first_name)
        .join(Person, Person.id == OutboxItem.person_id)
        .where(OutboxItem.kind == KIND, OutboxItem.subject_id == minutes_id)
        .order_by(Person.first_name, Person.id)
    )
    found: dict[str, list[str]] = {}
    for state, outcome, name in rows:
        if state == box.DONE:
            where = "unreachable" if outcome in UNREACHABLE else outcome or ""
        else:
            where = "paused" if state == box.HELD else "in_progress"
        found.setdefault(where, []).append(name)
    return Report(
        sent=found.get(outbox.SENT, []),
        unreachable=found.get("unreachable", []),
        paused=found.get("paused", []),
        failed=found.get("failed", []),
        in_progress=len(found.get("in_progress", [])),
    )


# Drafts ------------------------------------------------------------------------------------
# (Confirmed minutes and attendance are deleted by the retention job, bot/domain/retention.py:
# MINUTES_RETENTION_MONTHS for minutes, with their copies' outbox rows in the same step.)


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
