"""Closing the date poll survives a stop at any moment (issue 12's last window). The poll is
closed and the date decided in one transaction that also promises the decision's post in
the group (an outbox item): a stop before the commit leaves the poll open and the next pass
closes it; a stop after it leaves a decided meeting whose post the next start sends. It
used to close first and decide after, so a kill between them left a closed poll with no
decision, and a kill after the decision lost its post in the group and the coordinator's
picture of who can come."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

import pytest
from sqlalchemy import select

from bot.domain import meeting_messages, people
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from storage.models.meeting import Meeting

DECISION = "Frivilligmødet bliver "
PICTURE = "Frivilligmødet er fastsat til "
REMINDER = "En lille påmindelse: frivilligmødet"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=COPENHAGEN)


async def a_poll_with_votes(box: Sandbox, cast: Cast) -> None:
    """Everyone has started the bot; the poll (9 or 10 December) closes on 5 December;
    Anna and Bo can come on the 9th."""
    async with box.services.db.transaction() as session:
        for user in [cast.coordinator, *cast.volunteers]:
            user.started = True
            who = people.TelegramPerson(user.id, user.first_name, user.username, "da")
            await people.record_member(
                session, box.services.group_id, who, box.clock.now(), started_bot=True
            )
    await box.say(cast.coordinator, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    poll = next(m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.poll).poll
    anna, bo, _camilla, _dennis = cast.volunteers
    await box.vote(anna, poll["id"], [0])
    await box.vote(bo, poll["id"], [0])


def decisions(box: Sandbox) -> list[str]:
    return [t for t in box.texts_to(GROUP_CHAT_ID) if t.startswith(DECISION)]


def pictures(box: Sandbox, cast: Cast) -> list[str]:
    return [t for t in box.texts_to(cast.coordinator.id) if t.startswith(PICTURE)]


async def status(box: Sandbox) -> str:
    async with box.services.db.transaction() as session:
        meeting = await session.scalar(select(Meeting))
        assert meeting is not None
        return meeting.status


async def killed_during(box: Sandbox, method: str) -> None:
    """The closing pass runs until the bot calls `method` in the group, which Telegram
    performs but never answers: the bot is stopped there (as by a SIGKILL)."""
    box.fake.timeout_next(method, delay=3, perform=True, chat_id=GROUP_CHAT_ID)
    box.clock.set(at(2026, 12, 5, 10, 0))
    closing = asyncio.create_task(box.services.scheduler.run_due(box.app))
    await box.fake.wait_for(lambda c: c.method == method, timeout=10)
    closing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await closing


async def test_a_stop_after_the_decision_before_its_post_posts_it_after_the_restart(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    await a_poll_with_votes(box, cast)
    # Stopped while stopping the poll in Telegram: the decision had committed, its post not.
    await killed_during(box, "stopPoll")
    assert await status(box) == "decided"
    assert decisions(box) == []
    await box.restart_bot()
    [post] = decisions(box)
    assert "onsdag 9. december kl. 17.00" in post and "Indtil videre kan 2 komme" in post
    ics = next(m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.get("caption") == post)
    assert ics["document"]["file_name"] == "frivilligmoede.ics"
    # The coordinator's picture was promised with the decision too.
    assert len(pictures(box, cast)) == 1
    assert "Kan komme (2): Anna, Bo" in pictures(box, cast)[0]
    # Nothing twice afterwards, and the reminders promised with the decision arrive.
    await box.restart_bot()
    await box.advance_to(at(2026, 12, 8, 10, 0))
    assert len(decisions(box)) == 1 and len(pictures(box, cast)) == 1
    reminded = [sum(REMINDER in t for t in box.texts_to(p.id)) for p in cast.volunteers]
    assert reminded == [1, 1, 1, 1]  # Camilla and Dennis haven't said: reminded too


async def test_a_stop_while_posting_the_decision_posts_it_again(group: tuple[Sandbox, Cast]):
    """Telegram posted it but the bot never heard: at least once, so it is posted again
    (the month's report names such a duplicate: tests/test_simulated_month.py)."""
    box, cast = group
    await a_poll_with_votes(box, cast)
    await killed_during(box, "sendDocument")
    assert len(decisions(box)) == 1
    await box.restart_bot()
    assert len(decisions(box)) == 2
    await box.restart_bot()
    await box.advance_to(at(2026, 12, 5, 12, 0))
    assert len(decisions(box)) == 2


async def test_a_failure_between_closing_and_deciding_leaves_the_poll_open_for_the_next_pass(
    group: tuple[Sandbox, Cast], monkeypatch: pytest.MonkeyPatch
):
    box, cast = group
    await a_poll_with_votes(box, cast)
    real_decide = meeting_messages.decide

    async def dies(*args: object, **kwargs: object) -> bool:
        raise RuntimeError("the process stops here")

    monkeypatch.setattr(meeting_messages, "decide", dies)
    await box.advance_to(at(2026, 12, 5, 10, 0))  # the pass fails (logged), nothing commits
    assert await status(box) == "open"
    assert decisions(box) == []
    monkeypatch.setattr(meeting_messages, "decide", real_decide)
    await box.restart_bot()
    assert await status(box) == "decided"
    assert len(decisions(box)) == 1
