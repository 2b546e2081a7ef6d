"""A nudge round interrupted by a crash continues after the restart: each nudge is an
outbox item, claimed just before it is sent and recorded once Telegram answered, so nobody
after the crash is left out and the one nudge a crash cut off goes out again (at-least-once:
a repeated nudge costs a second look, a lost one a voice in the date); whom the bot can't
reach is listed for the coordinator once, at the round's end. (The round used to be
claimed as a whole, so a crash lost every nudge not yet sent.)"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from sqlalchemy import select

from bot.domain import meeting_messages as messages
from bot.domain import outbox, people
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Person
from storage.models.meeting import Meeting
from storage.models.outbox import OutboxItem

NUDGE = "lukker i morgen"  # "the poll closes tomorrow", in Danish
NUDGE_EN = "closes tomorrow"  # Camilla's Telegram is in English
CANT_REACH = "kan ikke skrive privat til dem"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=COPENHAGEN)


async def set_the_scene(box: Sandbox, cast: Cast) -> None:
    """Everyone has started the bot except Eva, who joined and never did; Mette opens a
    poll closing on 5 December and Bo answers it. Not answered: Anna, Camilla, Dennis, Eva
    (in that order of person id: Eva is recorded last)."""
    async with box.services.db.transaction() as session:
        for user in [cast.coordinator, *cast.volunteers]:
            user.started = True
            who = people.TelegramPerson(user.id, user.first_name, user.username, "da")
            await people.record_member(
                session, box.services.group_id, who, box.clock.now(), started_bot=True
            )
    eva = box.fake.add_user(2005, "Eva")
    box.fake.join(GROUP_CHAT_ID, eva)
    await box.settle()
    await box.say(cast.coordinator, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    poll = next(m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.poll).poll
    await box.vote(cast.volunteers[1], poll["id"], [1])


def nudges_to(box: Sandbox, user) -> int:
    return sum(NUDGE in t or NUDGE_EN in t for t in box.texts_to(user.id))


def lists_to_coordinator(box: Sandbox, cast: Cast) -> list[str]:
    return [t for t in box.texts_to(cast.coordinator.id) if CANT_REACH in t]


async def test_a_round_killed_in_a_send_continues_after_the_restart_and_resends_that_one(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna, bo, camilla, dennis = cast.volunteers
    await set_the_scene(box, cast)

    # A day before closing the round starts: Anna is nudged, then Telegram takes Camilla's
    # nudge but the answer never comes back in time: the bot is killed mid-send.
    box.fake.timeout_next("sendMessage", delay=3, perform=True, chat_id=camilla.id)
    box.clock.set(at(2026, 12, 4, 9, 0))
    round_task = asyncio.create_task(box.services.scheduler.run_due(box.app))
    await box.fake.wait_for(
        lambda c: c.method == "sendMessage" and str(c.params.get("chat_id")) == str(camilla.id),
        timeout=10,
    )
    round_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await round_task
    assert [nudges_to(box, p) for p in (anna, bo, camilla, dennis)] == [1, 0, 1, 0]
    assert lists_to_coordinator(box, cast) == []

    # After the restart the round goes on from Camilla: the bot never heard whether her
    # nudge arrived, so it goes again (it had, so she sees it twice); Dennis is nudged, Eva
    # listed.
    await box.restart_bot()
    await box.advance_to(at(2026, 12, 4, 9, 30))
    assert [nudges_to(box, p) for p in (anna, bo, camilla, dennis)] == [1, 0, 2, 1]
    [listed] = lists_to_coordinator(box, cast)
    assert "Eva" in listed
    assert not any(name in listed for name in ("Anna", "Bo", "Camilla", "Dennis"))

    # The round is complete: another restart and pass repeat nothing.
    await box.restart_bot()
    await box.advance_to(at(2026, 12, 4, 12, 0))
    assert [nudges_to(box, p) for p in (anna, bo, camilla, dennis)] == [1, 0, 2, 1]
    assert len(lists_to_coordinator(box, cast)) == 1
    async with box.services.db.transaction() as session:
        meeting = await session.scalar(select(Meeting))
        assert meeting is not None and meeting.nudged_at is not None
    assert await nudge_outcomes(box) == {
        "Anna": "sent",
        "Camilla": "sent",  # in flight when the bot was killed: sent again
        "Dennis": "sent",
    }  # Eva never started the bot: no nudge promised, she is listed instead


async def nudge_outcomes(box: Sandbox) -> dict[str, str | None]:
    async with box.services.db.transaction() as session:
        rows = await session.execute(
            select(Person.first_name, OutboxItem.outcome)
            .join(Person, Person.id == OutboxItem.person_id)
            .where(OutboxItem.kind == messages.NUDGE)
        )
        return {name: outcome for name, outcome in rows}


async def test_a_crash_right_after_a_claim_sends_that_nudge_after_the_restart(
    group: tuple[Sandbox, Cast],
):
    """Claimed, then killed before Telegram got the message: the restart can't know whether
    it arrived, so that one nudge goes out (once); everyone after it is nudged once."""
    box, cast = group
    anna, bo, camilla, dennis = cast.volunteers
    await set_the_scene(box, cast)
    async with box.services.db.transaction() as session:
        meeting = await session.scalar(select(Meeting))
        anna_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == anna.id))
        assert meeting is not None and anna_id is not None
        # A bot (now gone) promised Anna's nudge and claimed it, then was killed.
        when = messages.nudge_moment(meeting)
        await outbox.enqueue(
            session, box.services.group_id, messages.NUDGE, meeting.id, anna_id, when
        )
        claim = await outbox.claim_next(session, box.services.group_id, when, "gone")
        assert claim is not None and claim.person_id == anna_id
    await box.restart_bot()
    await box.advance_to(at(2026, 12, 4, 9, 0))
    await box.restart_bot()
    await box.advance_to(at(2026, 12, 4, 9, 30))
    assert [nudges_to(box, p) for p in (anna, bo, camilla, dennis)] == [1, 0, 1, 1]
    assert len(lists_to_coordinator(box, cast)) == 1
    assert await nudge_outcomes(box) == {"Anna": "sent", "Camilla": "sent", "Dennis": "sent"}
