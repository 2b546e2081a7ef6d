"""A volunteer's meetings end to end: cancelling one (the co-volunteer is told), moving
one, changing the rhythm, their own lead times, and a match that ends."""

from __future__ import annotations

from bot.sandbox import Cast, Sandbox
from tests.e2e import at, button, everyone_starts, reminders_to


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
    assert "Dagen før kl. 18.00: slået til" in section.text
    await box.tap(anna, section, "reminders:dh:20")
    await box.tap(anna, section, "reminders:hrs")
    assert "Dagen før kl. 20.00: slået til" in box.fake.messages_to(anna.id)[-1].text
    await box.advance_to(at(30, 18, 0, month=11))
    assert reminders_to(box, anna.id) == []
    await box.advance_to(at(30, 20, 0, month=11))
    assert len(reminders_to(box, anna.id)) == 1
    await box.advance_to(at(1, 9, 0))
    assert len(reminders_to(box, anna.id)) == 1  # the 2-hours reminder is off
    # A new match promises the reminders she set, not the defaults.
    await box.say(mette, '/match @anna "P.J." weekly thu 10:00')
    told = next(t for t in reversed(box.texts_to(anna.id)) if "P.J." in t)
    assert "Jeg minder dig om møderne dagen før kl. 20.00; det kan du ændre under" in told
    assert "timer før" not in told
