"""What the monthly meeting promises to send privately, as outbox items: a nudge to each
volunteer who hasn't answered the date poll (a day before it closes) and a reminder to each
who can come, at every lead time before the meeting.

The promises are enqueued in the transaction that makes them (the nudge round, the
decision) and judged again when they are due: `wanted_nudge` and `wanted_reminder` say
whether the message still makes sense now (the poll is still open and unanswered, the
meeting is still ahead at that time, the person is still a volunteer, not on a pause and
reachable). A volunteer on a pause is never nudged or reminded; a reminder that comes due
during her pause is dropped, the next one (after the pause) is sent as usual.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import away, outbox, people
from bot.domain import meeting as domain
from bot.domain import meeting_dates as dates
from storage.models import Person
from storage.models.meeting import Meeting
from storage.models.outbox import CLAIMED, DONE, HELD, PENDING, OutboxItem

NUDGE = "meeting nudge"
REMINDER = "meeting reminder"
# To the group (no person): the date decided (or moved), or that no date got a yes.
DECISION = "meeting decision"
NO_DATE = "meeting no date"
# With the decision: the whole picture to each coordinator, and, on a move, a word to each
# volunteer who had said yes to the old date.
PICTURE = "meeting picture"
MOVED = "meeting moved"
NUDGE_BEFORE_CLOSE = timedelta(days=1)


# Nudges -----------------------------------------------------------------------------------


def nudge_moment(meeting: Meeting) -> datetime:
    """When a poll's nudges are due: the same moment for the whole round, so a round
    enqueued again (or moved from the old tables) is kept once per volunteer."""
    assert meeting.closes_at is not None
    return meeting.closes_at - NUDGE_BEFORE_CLOSE


async def due_nudge_rounds(session: AsyncSession, group_id: int, now: datetime) -> list[Meeting]:
    rows = await session.scalars(
        select(Meeting).where(
            Meeting.group_id == group_id,
            Meeting.status == domain.OPEN,
            Meeting.nudged_at.is_(None),
            Meeting.closes_at.is_not(None),
        )
    )
    return [m for m in rows if nudge_moment(m) <= now]


async def promise_nudges(
    session: AsyncSession, meeting: Meeting, now: datetime, coordinator_ids: Collection[int]
) -> None:
    """Promise a nudge to every active volunteer who hasn't answered and can be written to.
    Idempotent (one due moment per round): a pass a stop cut short promises it again."""
    for person in await domain.nudge_recipients(session, meeting, now, coordinator_ids):
        if person.reachable:
            await outbox.enqueue(
                session, meeting.group_id, NUDGE, meeting.id, person.id, nudge_moment(meeting)
            )


async def nudges_outstanding(session: AsyncSession, meeting_id: int) -> bool:
    """Some of the poll's nudges are not sent yet (due, or left claimed by a stop)."""
    found = await session.scalar(
        select(OutboxItem.id)
        .where(OutboxItem.kind == NUDGE, OutboxItem.subject_id == meeting_id)
        .where(OutboxItem.state.in_((PENDING, CLAIMED)))
        .limit(1)
    )
    return found is not None


async def finish_nudge_round(session: AsyncSession, meeting_id: int, now: datetime) -> bool:
    """Mark the round complete (before the coordinator hears whom the bot can't reach, so
    they hear it once); False if someone already did or the poll closed."""
    result = await session.execute(
        update(Meeting)
        .where(Meeting.id == meeting_id, Meeting.nudged_at.is_(None))
        .values(nudged_at=now)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def unreachable_waiting(
    session: AsyncSession, meeting: Meeting, now: datetime, coordinator_ids: Collection[int]
) -> list[Person]:
    """Volunteers who haven't answered and whom the bot can't write to (for the
    coordinator, once the round's nudges went out)."""
    waiting = await domain.nudge_recipients(session, meeting, now, coordinator_ids)
    return [p for p in waiting if not p.reachable]


async def wanted_nudge(
    session: AsyncSession, claim: outbox.Claim, now: datetime, coordinator_ids: Collection[int]
) -> tuple[Meeting, Person] | None:
    """The poll and the volunteer, while a nudge still makes sense: the poll is open and
    not about to close, and she hasn't answered, is not on a pause and can be reached."""
    meeting = await session.get(Meeting, claim.subject_id)
    if meeting is None or meeting.status != domain.OPEN or meeting.closes_at is None:
        return None
    if meeting.closes_at <= now:
        return None
    person = await _active(session, claim.person_id, now, coordinator_ids)
    if person is None or claim.person_id in await domain.answers(session, meeting.id):
        return None
    return meeting, person


# Reminders --------------------------------------------------------------------------------


async def plan_reminders(
    session: AsyncSession,
    meeting: Meeting,
    leads: list[dates.Lead],
    tz: ZoneInfo,
    now: datetime,
    coordinator_ids: Collection[int],
) -> None:
    """The decided (or moved) meeting's reminders: the old date's reminders not yet sent
    are let go, and each volunteer who can come (or hasn't said) is promised one per lead
    time still ahead. Who is on a pause then is decided when each one is due."""
    await let_go(session, REMINDER, meeting.id, now)
    seen = await domain.picture(session, meeting, now, coordinator_ids)
    cannot = {p.id for p in seen.cannot}
    for person in await people.volunteers(session, meeting.group_id):
        if person.id not in cannot and person.telegram_user_id not in coordinator_ids:
            await plan_reminders_for(session, meeting, person.id, leads, tz, now)


async def plan_reminders_for(
    session: AsyncSession,
    meeting: Meeting,
    person_id: int,
    leads: list[dates.Lead],
    tz: ZoneInfo,
    now: datetime,
) -> None:
    """One volunteer's reminders of a decided meeting (also for someone who starts the bot
    after the decision); a reminder whose moment has passed is not promised."""
    assert meeting.starts_at is not None
    for lead in leads:
        due_at = dates.reminder_moment(meeting.starts_at, lead, tz)
        if now < due_at < meeting.starts_at:
            await outbox.enqueue(session, meeting.group_id, REMINDER, meeting.id, person_id, due_at)


async def upcoming_meeting(session: AsyncSession, group_id: int, now: datetime) -> Meeting | None:
    """The next decided meeting still ahead."""
    return await session.scalar(
        select(Meeting)
        .where(Meeting.group_id == group_id, Meeting.status == domain.DECIDED)
        .where(Meeting.starts_at > now)
        .order_by(Meeting.starts_at)
    )


async def wanted_reminder(
    session: AsyncSession,
    claim: outbox.Claim,
    now: datetime,
    grace: timedelta,
    coordinator_ids: Collection[int],
) -> tuple[Meeting, Person] | None:
    """The meeting and the volunteer, while a reminder still makes sense: the meeting is
    decided and ahead, the reminder not found too late (bot down past the grace), and she
    hasn't said she can't come, is not on a pause and can be reached."""
    meeting = await session.get(Meeting, claim.subject_id)
    if meeting is None or meeting.status != domain.DECIDED or meeting.starts_at is None:
        return None
    if meeting.starts_at <= now or now - claim.due_at > grace:
        return None
    person = await _active(session, claim.person_id, now, coordinator_ids)
    if person is None:
        return None
    seen = await domain.picture(session, meeting, now, coordinator_ids)
    if any(p.id == person.id for p in seen.cannot):
        return None
    return meeting, person


async def _active(
    session: AsyncSession, person_id: int, now: datetime, coordinator_ids: Collection[int]
) -> Person | None:
    """The person, if she is an active volunteer (a member, not on a pause, not the
    coordinator) the bot can write to."""
    person = await session.get(Person, person_id)
    if person is None or not person.reachable:
        return None
    if not await domain.is_active_volunteer(session, person, now, coordinator_ids):
        return None
    return person


async def let_go(session: AsyncSession, kind: str, subject_id: int, now: datetime) -> None:
    """Promises of `kind` about `subject_id` not yet sent are no longer wanted (e.g. the
    reminders and the group post of a date that was moved)."""
    await session.execute(
        update(OutboxItem)
        .where(
            OutboxItem.kind == kind,
            OutboxItem.subject_id == subject_id,
            OutboxItem.state.in_((PENDING, HELD)),
        )
        .values(state=DONE, outcome=outbox.NOT_WANTED, done_at=now, claim_token=None)
    )


# Deciding -----------------------------------------------------------------------------------


async def decide(
    session: AsyncSession,
    meeting: Meeting,
    starts_at: datetime,
    leads: list[dates.Lead],
    tz: ZoneInfo,
    now: datetime,
    coordinator_ids: Collection[int],
) -> bool:
    """Fix (or move) the meeting's date, promise its reminders and its post in the group,
    in one transaction. Returns True if it was a move of an already decided meeting."""
    said_yes: list[Person] = []
    if meeting.status == domain.DECIDED:
        said_yes = (await domain.picture(session, meeting, now, coordinator_ids)).can
    moved = await domain.decide(session, meeting, starts_at, now)
    await plan_reminders(session, meeting, leads, tz, now, coordinator_ids)
    for kind in (DECISION, PICTURE, MOVED):  # an earlier date's messages not yet sent
        await let_go(session, kind, meeting.id, now)
    await outbox.enqueue(session, meeting.group_id, DECISION, meeting.id, None, now)
    # To each coordinator, or during their time away to their stand-in.
    for recipient in await away.route(session, meeting.group_id, coordinator_ids, now):
        if recipient.person_id is not None:
            await outbox.enqueue(
                session, meeting.group_id, PICTURE, meeting.id, recipient.person_id, now
            )
    for person in said_yes:
        await outbox.enqueue(session, meeting.group_id, MOVED, meeting.id, person.id, now)
    return moved


async def _coordinators(
    session: AsyncSession, group_id: int, coordinator_ids: Collection[int]
) -> list[Person]:
    """The coordinators the bot knows as people (they have written to it or are seen in the
    group); one it doesn't know yet is told directly instead (`unknown_coordinators`)."""
    found = [await people.find_person(session, group_id, user_id) for user_id in coordinator_ids]
    return [p for p in found if p is not None]


async def unknown_coordinators(
    session: AsyncSession, group_id: int, coordinator_ids: Collection[int]
) -> set[int]:
    known = {p.telegram_user_id for p in await _coordinators(session, group_id, coordinator_ids)}
    return set(coordinator_ids) - known


@dataclass(frozen=True)
class Closing:
    """A closed date poll: its counts and the date chosen (None: no date got a yes)."""

    meeting: Meeting
    counts: list[domain.OptionCount]
    chosen: datetime | None


async def close_poll(
    session: AsyncSession,
    meeting_id: int,
    leads: list[dates.Lead],
    tz: ZoneInfo,
    now: datetime,
    coordinator_ids: Collection[int],
) -> Closing | None:
    """Close the date poll and decide in one transaction, so a stop can't leave a closed
    poll without a decision: the date with the most yes (a tie goes to the earlier date),
    or, when no date got a yes, the group is promised a word that the coordinator will
    choose. None if the poll was closed already."""
    if not await domain.claim_close(session, meeting_id, now):
        return None
    meeting = await session.get_one(Meeting, meeting_id)
    counted = {
        p.id for p in await domain.volunteers(session, meeting.group_id, now, coordinator_ids)
    }
    counts = await domain.tally(session, meeting_id, counted)
    chosen = domain.winning_date(counts)
    if chosen is None:
        await outbox.enqueue(session, meeting.group_id, NO_DATE, meeting.id, None, now)
    else:
        await decide(session, meeting, chosen, leads, tz, now, coordinator_ids)
    return Closing(meeting, counts, chosen)


async def wanted_after_decision(
    session: AsyncSession, claim: outbox.Claim, now: datetime, coordinator_ids: Collection[int]
) -> tuple[Meeting, Person] | None:
    """The meeting and the person, while the picture (to a coordinator) or the word about
    the move (to a volunteer who is active and reachable) still says what is true."""
    meeting = await session.get(Meeting, claim.subject_id)
    if meeting is None or meeting.status != domain.DECIDED or meeting.starts_at is None:
        return None
    if meeting.starts_at <= now or claim.person_id is None:
        return None
    if claim.kind == PICTURE:
        person = await session.get(Person, claim.person_id)
        if person is None or not await away.may_receive(
            session, person, coordinator_ids, claim.due_at
        ):
            return None
        return meeting, person
    found = await _active(session, claim.person_id, now, coordinator_ids)
    return (meeting, found) if found is not None else None


async def wanted_group_post(
    session: AsyncSession, claim: outbox.Claim, now: datetime
) -> Meeting | None:
    """The meeting, while its group post still says what is true: a decision for a
    meeting still ahead, or "no date yet" while the coordinator hasn't chosen one."""
    meeting = await session.get(Meeting, claim.subject_id)
    if meeting is None:
        return None
    if claim.kind == NO_DATE:
        return meeting if meeting.status == domain.CLOSED else None
    if meeting.status != domain.DECIDED or meeting.starts_at is None:
        return None
    return meeting if meeting.starts_at > now else None
