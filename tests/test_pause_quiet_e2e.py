"""Pause means quiet, end to end: a volunteer on a pause hears nothing about her match's
meetings, nobody is told she was informed, and the coordinator sees that she asked for a
temporary volunteer in `/cover`, `/matches` and the weekly digest."""

from __future__ import annotations

from bot.sandbox import Cast, Sandbox
from tests.e2e import at, button


async def anna_pauses_asking_for_cover(box: Sandbox, cast: Cast) -> None:
    """Anna and Bo share K.L. (Tuesdays 10:00); Anna starts an open-ended pause and asks the
    coordinator to find a temporary volunteer."""
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    for user in (mette, anna, bo, cast.volunteers[3]):
        await box.say(user, "/start")
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00')
    await box.say(anna, "/pause")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:len:open")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:cover:yes")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:note:none")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:ok")
    assert "Anna vil gerne have, at du finder en midlertidig frivillig" in box.last_text_to(
        mette.id
    )


async def test_a_paused_volunteer_hears_nothing_of_a_cancelled_meeting(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    await anna_pauses_asking_for_cover(box, cast)
    anna_before = len(box.texts_to(anna.id))
    await box.advance_to(at(30, 18, 0, month=11))  # Bo's reminder the day before
    reminder = box.fake.messages_to(bo.id)[-1]
    assert reminder.text.startswith("Påmindelse")
    await box.tap(bo, reminder, button(reminder, "Aflys denne gang"))
    question = box.fake.messages_to(bo.id)[-1]
    await box.tap(bo, question, button(question, "Ja, borgeren ved det"))
    answer = box.last_text_to(bo.id)
    assert "aflyst" in answer
    assert "Anna" not in answer  # not "I have told Anna"
    # Nothing about it reaches Anna, then or when she comes back.
    assert box.texts_to(anna.id)[anna_before:] == []
    await box.advance_to(at(2, 9, 0))
    await box.say(anna, "/resume")
    assert not any("aflyst" in t for t in box.texts_to(anna.id)[anna_before:])


async def test_moving_a_meeting_is_not_told_to_the_volunteer_on_a_pause(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    await anna_pauses_asking_for_cover(box, cast)
    anna_before = len(box.texts_to(anna.id))
    await box.say(bo, "/meetings")
    listing = box.fake.messages_to(bo.id)[-1]
    move = next(b for b in listing.buttons if b["text"].startswith("Flyt 1/12"))
    await box.tap(bo, listing, move["callback_data"])
    await box.say(bo, "2.12 15:00")
    assert "onsdag 2. december kl. 15.00" in box.last_text_to(bo.id)
    assert "Anna" not in box.last_text_to(bo.id)
    assert box.texts_to(anna.id)[anna_before:] == []


async def test_cover_and_the_digest_list_the_match_whose_volunteer_asked_for_cover(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, dennis = cast.coordinator, cast.volunteers[3]
    await anna_pauses_asking_for_cover(box, cast)
    # Bo is still on K.L., yet Anna asked: the coordinator is offered the match.
    await box.say(mette, "/cover")
    picker = box.fake.messages_to(mette.id)[-1]
    assert [b["text"] for b in picker.buttons] == ["K.L."]
    await box.say(mette, "/matches")
    assert "Anna har bedt om en midlertidig frivillig" in box.last_text_to(mette.id)
    # The weekly digest (Mondays 09:00) names it too.
    await box.advance_to(at(7, 9, 0))
    digest = next(t for t in reversed(box.texts_to(mette.id)) if "ugentlige overblik" in t)
    assert "K.L.: Anna har bedt om en midlertidig frivillig" in digest
    # Once the coordinator found one, it is off the list.
    await box.tap(mette, picker, picker.buttons[0]["callback_data"])
    people_picker = box.fake.messages_to(mette.id)[-1]
    await box.tap(mette, people_picker, button(people_picker, "Dennis"))
    assert "tager møderne med K.L." in box.last_text_to(dennis.id)
    await box.say(mette, "/cover")
    assert "Intet match har brug for" in box.last_text_to(mette.id)
