"""Matches end to end: made both ways (guided and one line), reminders for both
volunteers, cancelling, moving, changing the rhythm, lead times, ending."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bot.sandbox import COPENHAGEN, Cast, Sandbox
from storage.models import ReminderDelivery


def at(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=COPENHAGEN)


async def everyone_starts(box: Sandbox, cast: Cast) -> None:
    for user in (cast.coordinator, *cast.volunteers):
        await box.say(user, "/start")


def reminders_to(box: Sandbox, chat_id: int) -> list:
    return [m for m in box.fake.messages_to(chat_id) if (m.text or "").startswith("Påmindelse")]


def button(message, text: str) -> str:
    return next(b["callback_data"] for b in message.buttons if b["text"] == text)


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
    await box.say(mette, "/match")
    picker = box.fake.messages_to(mette.id)[-1]
    anna_button = next(b for b in picker.buttons if b["text"] == "Anna")
    await box.tap(mette, picker, anna_button["callback_data"])
    await box.tap(mette, picker, "matches:gnext")
    assert "aldrig et fulde navn" in box.last_text_to(mette.id)
    await box.say(mette, "Karen Larsen")
    assert "fulde navn" in box.last_text_to(mette.id)
    await box.say(mette, "K.L.")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "matches:gr:weekly")
    await box.say(mette, "tor 14:00")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "matches:gp")
    await box.tap(mette, box.fake.messages_to(mette.id)[-1], "matches:gs")
    assert "Færdig" in box.last_text_to(mette.id)
    assert "torsdag 3. december kl. 14.00" in box.last_text_to(anna.id)
    await box.advance_to(at(2, 18, 0))
    assert "torsdag 3. december kl. 14.00" in reminders_to(box, anna.id)[0].text


async def test_bad_one_liner_gets_a_kind_message_with_an_example(group: tuple[Sandbox, Cast]):
    box, cast = group
    await everyone_starts(box, cast)
    await box.say(cast.coordinator, '/match @anna "K.L." weekly someday 10:00')
    text = box.last_text_to(cast.coordinator.id)
    assert "For eksempel" in text and '/match @anna "K.L." weekly tue 10:00' in text
    await box.say(cast.coordinator, '/match @nobody "K.L." weekly tue 10:00')
    assert "@nobody" in box.last_text_to(cast.coordinator.id)
    await box.say(cast.volunteers[0], '/match @anna "K.L." weekly tue 10:00')
    assert "kun koordinatoren" in box.last_text_to(cast.volunteers[0].id)


async def test_cancel_one_meeting_tells_the_co_volunteer_and_the_coordinator(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00')
    await box.advance_to(at(30, 18, 0, month=11))
    reminder = reminders_to(box, anna.id)[-1]
    await box.tap(anna, reminder, button(reminder, "Aflys denne gang"))
    question = box.fake.messages_to(anna.id)[-1]
    assert [b["text"] for b in question.buttons][:2] == [
        "Ja, borgeren ved det",
        "Nej, kan koordinatoren give besked?",
    ]
    await box.tap(anna, question, button(question, "Nej, kan koordinatoren give besked?"))
    assert "aflyst" in box.fake.messages_to(anna.id)[-1].text
    assert "Anna kan ikke komme" in box.last_text_to(bo.id)
    assert "K.L." in box.last_text_to(mette.id) and "Anna" in box.last_text_to(mette.id)
    # The coordinator sees the change in the overview.
    await box.say(mette, "/matches")
    assert "(aflyst)" in box.last_text_to(mette.id)
    # No reminder 2 hours before the cancelled meeting, for either of them.
    await box.advance_to(at(1, 8, 0))
    assert len(reminders_to(box, anna.id)) == 1 and len(reminders_to(box, bo.id)) == 1
    # The next week's meeting is reminded as usual.
    await box.advance_to(at(7, 18, 0))
    assert "tirsdag 8. december" in reminders_to(box, bo.id)[-1].text


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


async def test_move_a_meeting_and_change_the_rhythm_from_meetings(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00')
    await box.say(anna, "/meetings")
    listing = box.fake.messages_to(anna.id)[-1]
    assert "tirsdag 1. december kl. 10.00" in listing.text
    move = next(b for b in listing.buttons if b["text"].startswith("Flyt 1/12"))
    await box.tap(anna, listing, move["callback_data"])
    await box.say(anna, "2.12 15:00")
    assert "onsdag 2. december kl. 15.00" in box.last_text_to(anna.id)
    assert "flyttet" in box.last_text_to(bo.id)
    await box.advance_to(at(30, 18, 0, month=11))
    assert reminders_to(box, anna.id) == []  # the meeting is on Wednesday now
    await box.advance_to(at(1, 18, 0))
    assert "onsdag 2. december kl. 15.00" in reminders_to(box, anna.id)[-1].text

    await box.say(anna, "/meetings")
    listing = box.fake.messages_to(anna.id)[-1]
    rhythm = next(b for b in listing.buttons if b["callback_data"].startswith("matches:rh:"))
    await box.tap(anna, listing, rhythm["callback_data"])
    choice = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, choice, button(choice, "Hver anden uge"))
    await box.say(anna, "tor 16:00")
    assert "hver anden torsdag kl. 16.00" in box.last_text_to(anna.id)
    assert "hver anden torsdag kl. 16.00" in box.last_text_to(bo.id)
    # From tomorrow on: every other Thursday from 3 December; Tuesday 8 December is gone.
    await box.advance_to(at(2, 18, 0))
    assert "torsdag 3. december kl. 16.00" in reminders_to(box, bo.id)[-1].text
    count = len(reminders_to(box, bo.id))
    await box.advance_to(at(8, 9, 0))
    assert len(reminders_to(box, bo.id)) == count
    await box.advance_to(at(16, 18, 0))
    assert "torsdag 17. december kl. 16.00" in reminders_to(box, bo.id)[-1].text


async def test_ending_a_match_stops_reminders_and_tells_its_volunteers(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.say(mette, "/endmatch")
    picker = box.fake.messages_to(mette.id)[-1]
    await box.tap(mette, picker, picker.buttons[0]["callback_data"])
    assert "slut" in box.last_text_to(anna.id)
    await box.advance_to(at(1, 9, 0))
    assert reminders_to(box, anna.id) == []


async def test_lead_times_are_changed_in_settings(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.say(anna, "/settings")
    menu = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, menu, "reminders:settings")
    section = box.fake.messages_to(anna.id)[-1]
    assert "Dagen før kl. 18.00: til" in section.text
    await box.tap(anna, section, "reminders:dh:20")
    await box.tap(anna, section, "reminders:hrs")
    assert "Dagen før kl. 20.00: til" in box.fake.messages_to(anna.id)[-1].text
    await box.advance_to(at(30, 18, 0, month=11))
    assert reminders_to(box, anna.id) == []
    await box.advance_to(at(30, 20, 0, month=11))
    assert len(reminders_to(box, anna.id)) == 1
    await box.advance_to(at(1, 9, 0))
    assert len(reminders_to(box, anna.id)) == 1  # the 2-hours reminder is off
