"""Cover by suggestion, end to end: Anna asks for a pause with a temporary volunteer; the
coordinator's notice suggests who could take over (room first, waiting longest first); one
tap asks Dennis privately, who hears only that Anna can't come for a while; yes sets the
cover (Dennis gets the meetings and reminders, Anna none; the co-volunteer is told; the
coordinator gets one line); no, or no answer in two days (also across a restart), brings
the next suggestions one tap away. Stale and hand-made buttons act on nobody, and nothing
is ever posted in the group."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain.confirmations import Refusal
from bot.i18n import texts
from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from handlers.callbacks import ONLY_COORDINATOR, REFUSALS, STALE
from tests.e2e import at, button, everyone_starts, reminders_to

NOTICE = "har bedt om en pause"
QUESTION = "Vil du tage møderne med K.L. (hver tirsdag kl. 10.00), mens Anna ikke kan i en periode?"


def last(box: Sandbox, user: Any) -> Any:
    return box.fake.messages_to(user.id)[-1]


def labels(message: Any) -> list[str]:
    return [b["text"] for b in message.buttons]


def toast(box: Sandbox) -> str:
    return box.fake.calls_to("answerCallbackQuery")[-1].params.get("text", "")


async def a_group_with_room_and_waiting(box: Sandbox, cast: Cast) -> Any:
    """K.L. with Anna and Camilla on Tuesdays at 10; Bo meets P.J. at the same hour; Erik
    (who came an hour later) meets M.N. on Thursdays; Dennis has no match. Returns Erik."""
    mette = cast.coordinator
    await everyone_starts(box, cast)
    await box.say(mette, '/match @anna @camilla "K.L." weekly tue 10:00')
    await box.say(mette, '/match @bo_frivillig "P.J." weekly tue 10:00')
    await box.advance(timedelta(hours=1))
    erik = box.fake.add_user(2005, "Erik", username="erik")
    box.fake.set_member(GROUP_CHAT_ID, erik.id, "member")
    await box.say(erik, "/start")
    await box.say(mette, '/match @erik "M.N." weekly thu 14:00')
    return erik


async def anna_asks_for_a_pause_with_cover(box: Sandbox, cast: Cast) -> Any:
    """Anna's private /pause for a month, asking for a temporary volunteer; returns the
    coordinator's notice."""
    anna, mette = cast.volunteers[0], cast.coordinator
    await box.say(anna, "/pause")
    await box.tap(anna, last(box, anna), "pause:len:1m")
    await box.tap(anna, last(box, anna), "pause:cover:yes")
    await box.tap(anna, last(box, anna), "pause:note:none")
    await box.tap(anna, last(box, anna), "pause:ok")
    notice = last(box, mette)
    assert NOTICE in notice.text
    return notice


async def test_the_notice_suggests_and_one_tap_sets_the_cover(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna, bo, camilla, dennis = cast.coordinator, *cast.volunteers
    erik = await a_group_with_room_and_waiting(box, cast)
    in_group = len(box.fake.messages_to(GROUP_CHAT_ID))
    notice = await anna_asks_for_a_pause_with_cover(box, cast)

    # Room first (Bo meets P.J. at that very hour), then waiting longest (Dennis, then Erik).
    assert labels(notice) == ["Spørg Dennis", "Spørg Erik", "Spørg Bo", "Jeg finder selv en"]
    assert "får kun at vide, at Anna ikke kan i en periode, ikke hvorfor" in notice.text
    dennis_before = len(box.texts_to(dennis.id))
    camilla_before = len(box.texts_to(camilla.id))
    await box.tap(mette, notice, button(notice, "Spørg Dennis"))
    assert "Jeg har spurgt Dennis privat om møderne med K.L." in box.last_text_to(mette.id)
    assert last(box, mette).buttons == [] and notice_without_buttons(box, mette, notice)

    question = last(box, dennis)
    assert question.text.startswith("Hej Dennis! " + QUESTION)
    assert "Det er helt i orden at sige nej" in question.text
    assert labels(question) == ["Ja", "Nej, tak"]
    await box.tap(dennis, question, button(question, "Ja"))
    answered = box.fake.messages_to(dennis.id)[-1]
    assert "K.L." in answered.text and answered.buttons == []
    assert box.last_text_to(mette.id) == (
        "Dennis har sagt ja og tager møderne med K.L. som midlertidig frivillig, indtil Anna "
        "er tilbage fra pausen."
    )
    # The co-volunteer (English) hears someone joins for a while: not who is away, nor why.
    told = box.texts_to(camilla.id)[camilla_before:]
    assert told == [
        "Dennis will take part in the meetings with K.L. for a while, as a temporary volunteer."
    ]

    # The meetings are Dennis's now: his reminder the day before, none for Anna.
    await box.advance_to(at(30, 18, 0, month=11))
    assert len(reminders_to(box, dennis.id)) == 1 and "K.L." in reminders_to(box, dennis.id)[0].text
    assert reminders_to(box, anna.id) == []
    # Dennis never learns of the pause; Bo and Erik hear nothing at all.
    assert not any("pause" in t.lower() for t in box.texts_to(dennis.id)[dennis_before:])
    assert [t for t in box.texts_to(bo.id) if "K.L." in t] == []
    assert [t for t in box.texts_to(erik.id) if "K.L." in t] == []
    assert len(box.fake.messages_to(GROUP_CHAT_ID)) == in_group


def notice_without_buttons(box: Sandbox, mette: Any, notice: Any) -> bool:
    """The notice keeps its text; its suggestions are gone once one was asked."""
    stored = next(m for m in box.fake.messages_to(mette.id) if m.message_id == notice.message_id)
    return stored.buttons == [] and NOTICE in stored.text


async def test_no_brings_the_next_suggestion_one_tap_away(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, dennis = cast.coordinator, cast.volunteers[3]
    erik = await a_group_with_room_and_waiting(box, cast)
    notice = await anna_asks_for_a_pause_with_cover(box, cast)
    taps = 0
    await box.tap(mette, notice, button(notice, "Spørg Dennis"))
    taps += 1
    question = last(box, dennis)
    await box.tap(dennis, question, button(question, "Nej, tak"))
    assert "Det er helt i orden" in box.last_text_to(dennis.id)
    told = last(box, mette)
    assert told.text.startswith("Dennis kan ikke tage møderne med K.L. denne gang.")
    assert "Vil du spørge en anden?" in told.text
    assert labels(told) == ["Spørg Erik", "Spørg Bo", "Jeg finder selv en"]
    await box.tap(mette, told, button(told, "Spørg Erik"))
    taps += 1
    question = last(box, erik)
    assert QUESTION in question.text
    await box.tap(erik, question, button(question, "Ja"))
    assert box.last_text_to(mette.id).startswith("Erik har sagt ja")
    assert taps == 2
    await box.advance_to(at(30, 18, 0, month=11))
    assert len(reminders_to(box, erik.id)) == 1 and reminders_to(box, dennis.id) == []


async def test_no_answer_in_two_days_is_told_also_across_a_restart(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, dennis = cast.coordinator, cast.volunteers[3]
    await a_group_with_room_and_waiting(box, cast)
    notice = await anna_asks_for_a_pause_with_cover(box, cast)
    await box.tap(mette, notice, button(notice, "Spørg Dennis"))
    question = last(box, dennis)
    await box.advance(timedelta(days=1))
    assert "har ikke svaret" not in box.last_text_to(mette.id)
    # The bot is down when the two days are up: the expiry is a row, not a timer.
    await box.stop_bot()
    box.clock.advance(timedelta(days=1, hours=1))
    await box.start_bot()
    await box.run_due()
    told = last(box, mette)
    assert told.text.startswith(
        "Dennis har ikke svaret på spørgsmålet om møderne med K.L. inden for to dage"
    )
    assert labels(told) == ["Spørg Erik", "Spørg Bo", "Jeg finder selv en"]
    await box.run_due()
    assert len([t for t in box.texts_to(mette.id) if "har ikke svaret" in t]) == 1
    # Dennis's late yes sets nothing: the coordinator may have asked someone else.
    await box.tap(dennis, question, button(question, "Ja"))
    assert "Der er gået mere end to dage" in box.last_text_to(dennis.id)
    await box.say(mette, "/matches")
    assert "Dennis" not in box.last_text_to(mette.id)


async def test_stale_and_hand_made_buttons_act_on_nobody(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, _anna, bo, _camilla, dennis = cast.coordinator, *cast.volunteers
    await a_group_with_room_and_waiting(box, cast)
    await box.say(bo, "/pause", in_group=True)  # answered neutrally in the group
    group_message = box.fake.messages_to(GROUP_CHAT_ID)[-1]
    in_group = len(box.fake.messages_to(GROUP_CHAT_ID))
    notice = await anna_asks_for_a_pause_with_cover(box, cast)
    da = texts("da")
    ask_dennis, ask_erik = button(notice, "Spørg Dennis"), button(notice, "Spørg Erik")

    # Made up: a token nobody was given, a row id instead of a token.
    await box.forge_tap(mette, notice, "cover:ask:" + "A" * 22)
    assert toast(box) == da(REFUSALS[Refusal.UNKNOWN])
    await box.forge_tap(mette, notice, "cover:ask:1")
    assert toast(box) == da(STALE)
    # A volunteer replaying the coordinator's button in their own chat.
    await box.say(dennis, "/meetings")
    dennis_before = len(box.texts_to(dennis.id))
    await box.forge_tap(dennis, last(box, dennis), ask_dennis)
    assert toast(box) == da(ONLY_COORDINATOR)
    assert len(box.texts_to(dennis.id)) == dennis_before  # nobody was asked

    await box.tap(mette, notice, ask_dennis)
    question = last(box, dennis)
    yes = button(question, "Ja")
    # The same suggestion again: used up. Another one while Dennis thinks: wait.
    await box.forge_tap(mette, notice, ask_dennis)
    assert toast(box) == da(REFUSALS[Refusal.USED])
    await box.forge_tap(mette, notice, ask_erik)
    assert "Jeg venter stadig på svar" in box.last_text_to(mette.id)
    # Only the one asked may answer, and only in the chat the question went to.
    await box.say(bo, "/meetings")
    await box.forge_tap(bo, last(box, bo), yes)
    assert toast(box) == texts("da")(REFUSALS[Refusal.NOT_YOURS])
    await box.forge_tap(dennis, group_message, yes)
    assert toast(box) == da(STALE)
    assert "Dennis har sagt ja" not in box.last_text_to(mette.id)
    # The real answer works once; a second tap is used up.
    await box.tap(dennis, question, yes)
    assert box.last_text_to(mette.id).startswith("Dennis har sagt ja")
    await box.forge_tap(dennis, question, yes)
    assert toast(box) == da(REFUSALS[Refusal.USED])
    assert len([t for t in box.texts_to(mette.id) if "har sagt ja" in t]) == 1
    assert len(box.fake.messages_to(GROUP_CHAT_ID)) == in_group


async def test_i_will_find_someone_myself_and_a_pause_without_cover(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await a_group_with_room_and_waiting(box, cast)
    notice = await anna_asks_for_a_pause_with_cover(box, cast)
    await box.tap(mette, notice, button(notice, "Jeg finder selv en"))
    assert "skriv /cover" in box.last_text_to(mette.id)
    assert notice_without_buttons(box, mette, notice)
    # Anna tells K.L. herself next time: no suggestions then.
    await box.say(anna, "/resume")
    await box.say(anna, "/pause")
    await box.tap(anna, last(box, anna), "pause:len:1m")
    await box.tap(anna, last(box, anna), "pause:cover:self")
    await box.tap(anna, last(box, anna), "pause:note:none")
    await box.tap(anna, last(box, anna), "pause:ok")
    assert NOTICE in box.last_text_to(mette.id) and last(box, mette).buttons == []


async def test_the_coordinators_own_pause_suggests_and_a_return_ends_the_question(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, dennis = cast.coordinator, cast.volunteers[0], cast.volunteers[3]
    await a_group_with_room_and_waiting(box, cast)
    await box.say(mette, "/pausevolunteer @anna")
    answer = last(box, mette)
    assert "Hvem kan tage over?" in answer.text
    assert labels(answer)[:2] == ["Spørg Dennis", "Spørg Erik"]
    await box.tap(mette, answer, button(answer, "Spørg Dennis"))
    question = last(box, dennis)
    assert QUESTION in question.text
    # Anna is back before Dennis answers: his yes sets nothing, and nobody is told of it.
    await box.say(mette, "/resumevolunteer @anna")
    told = len(box.texts_to(mette.id))
    await box.tap(dennis, question, button(question, "Ja"))
    assert "Det er blevet løst i mellemtiden" in box.last_text_to(dennis.id)
    assert len(box.texts_to(mette.id)) == told
    await box.advance_to(at(30, 18, 0, month=11))
    assert reminders_to(box, dennis.id) == [] and len(reminders_to(box, anna.id)) == 1
    await box.advance(timedelta(days=3))
    assert not any("har ikke svaret" in t for t in box.texts_to(mette.id))
