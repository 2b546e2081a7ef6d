"""Pause means quiet for the monthly meeting: a volunteer who starts a pause after the
meeting was decided gets none of its reminders while she is on it, nor a nudge about the
poll; once she is back, the next reminder reaches her as anyone else's. (The reminders are
promised with the decision and judged when due: tests/test_meeting_close_restart.py.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Pause, Person
from tests.test_meeting_e2e import start_all

# Danish, and English for Camilla.
REMINDER = ("En lille påmindelse: frivilligmødet", "A little reminder: the volunteer meeting")
NUDGE = ("lukker i morgen", "closes tomorrow")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=COPENHAGEN)


def count(box: Sandbox, user, fragments: tuple[str, str]) -> int:
    return sum(any(f in t for f in fragments) for t in box.texts_to(user.id))


async def start_pause(box: Sandbox, user_id: int) -> None:
    """Bo's pause starts (as the pause feature records it)."""
    async with box.services.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == user_id))
        assert person is not None
        session.add(
            Pause(
                group_id=person.group_id,
                person_id=person.id,
                started_at=box.clock.now(),
                wants_cover=False,
            )
        )


async def test_a_paused_volunteer_gets_no_meeting_reminder_nor_nudge_until_she_is_back(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna, bo, camilla, dennis = cast.volunteers
    await start_all(box, cast)
    # A poll closing on 5 December; Bo goes on a pause before the nudges (4 December).
    await box.say(cast.coordinator, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    poll = next(m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.poll).poll
    await box.vote(anna, poll["id"], [0])
    await start_pause(box, bo.id)
    await box.advance_to(at(2026, 12, 4, 10, 0))
    assert [count(box, p, NUDGE) for p in (anna, bo, camilla, dennis)] == [0, 0, 1, 1]
    # Decided on the 5th (the 9th, Anna's yes); Bo is still away on the day-before reminder.
    await box.advance_to(at(2026, 12, 5, 10, 0))
    await box.advance_to(at(2026, 12, 8, 10, 0))
    assert [count(box, p, REMINDER) for p in (anna, bo, camilla, dennis)] == [1, 0, 1, 1]
    # Bo is back the next morning: the two-hours reminder reaches him too, once.
    await box.say(bo, "/resume")
    await box.advance_to(at(2026, 12, 9, 15, 0))
    await box.advance_to(at(2026, 12, 9, 15, 30))
    assert [count(box, p, REMINDER) for p in (anna, bo, camilla, dennis)] == [2, 1, 2, 2]
