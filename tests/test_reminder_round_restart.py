"""Meeting reminders interrupted by a crash go on after the restart: each is an outbox item
promised with the decision, claimed just before it is sent and recorded once Telegram
answered, so the rest goes out and the one message a crash may have cut off is sent again
(found by tests/test_simulated_month.py: a SIGKILL mid-round lost the rest of the round,
and under CPU load, a SIGKILL between a claim and the send lost that reminder)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.domain import meeting_messages as messages
from bot.domain import outbox, people
from bot.sandbox import COPENHAGEN, Cast, Sandbox
from storage.models import Person
from storage.models.outbox import OutboxItem

REMINDER = "En lille påmindelse: frivilligmødet er onsdag 9. december kl. 17.00."


async def interrupted_round(box: Sandbox, cast: Cast, *, answered: bool) -> int:
    """A decided meeting (Anna said no) whose first reminder round a killed bot left with
    Bo claimed: his message in flight, or (`answered`) already answered by Telegram."""
    anna, bo, _camilla, _dennis = cast.volunteers
    async with box.services.db.transaction() as session:
        for user in [cast.coordinator, *cast.volunteers]:
            user.started = True
            who = people.TelegramPerson(user.id, user.first_name, user.username, "da")
            await people.record_member(
                session, box.services.group_id, who, box.clock.now(), started_bot=True
            )
    await box.say(cast.coordinator, "/meetingpoll 2026-12-10 16:30, 2026-12-09 17:00")
    poll = next(m for m in box.fake.messages_to(box.settings.group_chat_id) if m.poll).poll
    await box.vote(anna, poll["id"], [1])  # the 10th: no reminder for the 9th
    await box.vote(bo, poll["id"], [0])
    await box.say(cast.coordinator, "/closepoll")
    async with box.services.db.transaction() as session:
        bo_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == bo.id))
        first = await session.scalar(
            select(OutboxItem)
            .where(OutboxItem.kind == messages.REMINDER, OutboxItem.person_id == bo_id)
            .order_by(OutboxItem.due_at)
        )
        assert first is not None and bo_id is not None
        # Claimed by a bot that is gone (another process token).
        first.state, first.claim_token, first.attempts = "claimed", "gone", 1
        if answered:
            await outbox.record(session, first.id, "sent", box.clock.now())
        return first.id


async def test_a_round_cut_off_mid_send_sends_that_one_again_and_the_rest(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna, bo, camilla, dennis = cast.volunteers
    # Killed right after claiming Bo (the first by person id), before Telegram answered:
    # his reminder may never have left, so it goes out again, then the rest of the round.
    reminder_id = await interrupted_round(box, cast, answered=False)
    await box.restart_bot()
    await box.advance_to(datetime(2026, 12, 8, 10, 0, tzinfo=COPENHAGEN))

    def reminded(user) -> int:
        return sum(REMINDER in t for t in box.texts_to(user.id))

    assert [reminded(p) for p in (anna, bo, camilla, dennis)] == [0, 1, 1, 1]
    await box.restart_bot()
    await box.advance_to(datetime(2026, 12, 8, 10, 30, tzinfo=COPENHAGEN))
    assert [reminded(p) for p in (anna, bo, camilla, dennis)] == [0, 1, 1, 1]
    async with box.services.db.transaction() as session:
        row = await session.get_one(OutboxItem, reminder_id)
        assert row.state == "done" and row.outcome == "sent" and row.attempts == 2


async def test_a_round_cut_off_after_an_answered_send_continues_after_it(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna, bo, camilla, dennis = cast.volunteers
    # Telegram had answered for Bo before the kill: he is not reminded twice.
    await interrupted_round(box, cast, answered=True)
    await box.restart_bot()
    await box.advance_to(datetime(2026, 12, 8, 10, 0, tzinfo=COPENHAGEN))

    def reminded(user) -> int:
        return sum(REMINDER in t for t in box.texts_to(user.id))

    assert [reminded(p) for p in (anna, bo, camilla, dennis)] == [0, 0, 1, 1]
