"""Matches end to end: made both ways (guided and one line), reminders at the right
moments for both volunteers, the reminder's buttons."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.sandbox import Cast, Sandbox
from storage.models import ReminderDelivery
from tests.e2e import (
    at,
    button,
    everyone_starts,
    guided_match_waiting_for_the_label,
    reminders_to,
)


async def test_one_line_match_reminds_both_volunteers_at_the_right_moments(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00 place "Café X"')
    assert "K.L." in box.last_text_to(mette.id) and "Anna og Bo" in box.last_text_to(mette.id)
    told = box.last_text_to(anna.id)
    assert "K.L." in told and "hver tirsdag kl. 10.00" in told
    assert "tirsdag 1. december kl. 10.00" in told and "Sammen med Bo" in told

    await box.advance_to(at(30, 17, 59, month=11))
    assert reminders_to(box, anna.id) == [] and reminders_to(box, bo.id) == []
    await box.advance_to(at(30, 18, 0, month=11))  # the day before at 18:00
    for person in (anna, bo):
        [reminder] = reminders_to(box, person.id)
        assert "K.L." in reminder.text and "tirsdag 1. december kl. 10.00" in reminder.text
        assert "Sted: Café X" in reminder.text
        texts = [b["text"] for b in reminder.buttons]
        assert texts == ["Jeg kommer", "Aflys denne gang", "Jeg vil gerne tale med koordinatoren"]
    await box.advance_to(at(1, 7, 59))
    assert len(reminders_to(box, anna.id)) == 1
    await box.advance_to(at(1, 8, 0))  # 2 hours before
    assert len(reminders_to(box, anna.id)) == 2 and len(reminders_to(box, bo.id)) == 2
    await box.advance(timedelta(minutes=30))
    assert len(reminders_to(box, anna.id)) == 2

    # "Jeg kommer" is acknowledged on the reminder itself.
    reminder = reminders_to(box, anna.id)[-1]
    await box.tap(anna, reminder, button(reminder, "Jeg kommer"))
    edited = box.fake.messages_to(anna.id)[-1]
    assert "du kommer" in edited.text
    async with box.services.db.transaction() as session:
        acknowledged = await session.scalar(
            select(ReminderDelivery).where(ReminderDelivery.acknowledged_at.is_not(None))
        )
    assert acknowledged is not None


async def test_guided_flow_makes_a_match_and_refuses_a_full_name(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await everyone_starts(box, cast)
    await guided_match_waiting_for_the_label(box, cast)
    await box.say(mette, "Karen Larsen")
    assert "fuldt navn" in box.last_text_to(mette.id)
    await box.say(mette, "K.L.")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "matches:gr:weekly")
    await box.say(mette, "tor 14:00")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "matches:gp")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "matches:gs")
    assert "Så er det på plads" in box.last_text_to(mette.id)
    assert "torsdag 3. december kl. 14.00" in box.last_text_to(anna.id)
    # The flow is over: other text goes to the rest of the bot again.
    await box.say(mette, "hej")
    assert "forstod jeg ikke" in box.last_text_to(mette.id)
    await box.advance_to(at(2, 18, 0))
    assert "torsdag 3. december kl. 14.00" in reminders_to(box, anna.id)[0].text


async def test_bad_one_liner_gets_a_kind_message_with_an_example(group: tuple[Sandbox, Cast]):
    box, cast = group
    await everyone_starts(box, cast)
    await box.say(cast.coordinator, '/match @anna "K.L." weekly someday 10:00')
    text = box.last_text_to(cast.coordinator.id)
    assert "For eksempel" in text and "/match @anna »K.L.« ugentlig tirsdag 10.00" in text
    await box.say(cast.coordinator, '/match @nobody "K.L." weekly tue 10:00')
    assert "@nobody" in box.last_text_to(cast.coordinator.id)
    await box.say(cast.volunteers[0], '/match @anna "K.L." weekly tue 10:00')
    assert "kun koordinatoren" in box.last_text_to(cast.volunteers[0].id)


async def test_talk_to_the_coordinator_sends_first_name_and_label(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.advance_to(at(30, 18, 0, month=11))
    reminder = reminders_to(box, anna.id)[-1]
    await box.tap(anna, reminder, button(reminder, "Jeg vil gerne tale med koordinatoren"))
    assert box.last_text_to(mette.id) == "Anna vil gerne tale med dig (om K.L.)."
    assert "koordinatoren" in box.last_text_to(anna.id)
