"""End to end: the coordinator's time away (`/away`) over the fake Bot API. The stand-in
reads what would go to the coordinator and has the everyday rights, never the rights over
people's data; a volunteer may let a pause wait for the coordinator; the coordinator gets
a summary at the end; a restart in the middle keeps it all; the group hears nothing."""

from __future__ import annotations

import asyncio
from datetime import time
from typing import Any

from bot.domain import matches as match_rules
from bot.domain import people
from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from tests.e2e import at, button, everyone_starts

ONLY_COORDINATOR = "kun koordinatoren"


def last(box: Sandbox, user: Any) -> Any:
    message = box.fake.last_message_to(user.id)
    assert message is not None
    return message


def prefixed(message: Any, prefix: str, suffix: str = "") -> str:
    return next(
        b["callback_data"]
        for b in message.buttons
        if b["callback_data"].startswith(prefix) and b["callback_data"].endswith(suffix)
    )


def new_texts(box: Sandbox, user: Any, since: int) -> str:
    return "\n---\n".join(box.texts_to(user.id)[since:])


async def weekly_match(box: Sandbox, label: str, user: Any) -> None:
    async with box.services.db.transaction() as session:
        person = await people.find_person(session, box.services.group_id, user.id)
        assert person is not None
        await match_rules.create_match(
            session,
            box.services.group_id,
            kind="match",
            label=label,
            volunteer_ids=[person.id],
            plan=match_rules.Plan(rhythm="weekly", weekday=2, at=time(16, 0)),
            place=None,
            now=box.services.clock.now(),
            tz=box.services.tz,
        )


async def set_away(box: Sandbox, cast: Cast, days: str, stand_in: str) -> None:
    mette = cast.coordinator
    await box.say(mette, f"/away {days} @{stand_in}")
    question = last(box, mette)
    assert "Gruppen får intet at vide" in question.text
    assert "kan ikke se eller slette nogens data" in question.text
    await box.tap(mette, question, button(question, "Ja, sæt det op"))
    assert "Så er det på plads." in box.last_text_to(mette.id)


async def ask_for_pause(box: Sandbox, user: Any, *, note: str | None, wait: bool) -> str:
    """The private flow up to the summary; returns the summary's text, then confirms."""
    await box.say(user, "/pause")
    await box.tap(user, last(box, user), "pause:len:2w")
    if "midlertidig frivillig" in box.last_text_to(user.id):
        await box.tap(user, last(box, user), "pause:cover:yes")
    if note is None:
        await box.tap(user, last(box, user), "pause:note:none")
    else:
        await box.say(user, note)
    summary = last(box, user)
    await box.tap(user, summary, "pause:okw" if wait else "pause:ok")
    return summary.text


def nothing_in_the_group_about_it(box: Sandbox) -> None:
    for text in box.texts_to(GROUP_CHAT_ID):
        assert "stedfortræder" not in text and "væk" not in text and "pause" not in text.lower()


async def test_the_stand_in_reads_and_acts_but_never_sees_data_and_a_summary_ends_it(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, (anna, bo, _camilla, dennis) = cast.coordinator, cast.volunteers
    await everyone_starts(box, cast)
    await weekly_match(box, "K.L.", bo)
    await set_away(box, cast, "7.12 13.12", "anna")
    told = box.last_text_to(anna.id)
    assert "Mette er væk fra mandag 7. december til og med søndag 13. december" in told
    await box.say(mette, "/away")
    assert "Anna bliver din stedfortræder fra mandag 7. december" in box.last_text_to(mette.id)

    # Before the period Anna is a volunteer like the others.
    await box.say(anna, "/cover")
    assert ONLY_COORDINATOR in box.last_text_to(anna.id)

    await box.advance_to(at(7, 10))
    mette_before, anna_before = len(box.texts_to(mette.id)), len(box.texts_to(anna.id))
    summary = await ask_for_pause(box, bo, note="Ring gerne til mig.", wait=False)
    assert "Imens læser Anna det, du fortæller koordinatoren" in summary
    assert "Jeg har givet besked til Anna, der er stedfortræder for koordinatoren." in (
        box.last_text_to(bo.id)
    )
    notice = new_texts(box, anna, anna_before)
    assert "Bo har bedt om en pause" in notice and "Ring gerne til mig." in notice
    assert "har bedt om en pause" not in new_texts(box, mette, mette_before)

    # The everyday rights: the pause notice's buttons (ask someone to cover).
    notice = next(m for m in reversed(box.fake.messages_to(anna.id)) if m.buttons)
    assert "Spørg Dennis" in [b["text"] for b in notice.buttons]
    await box.tap(anna, notice, button(notice, "Spørg Dennis"))
    assert "Jeg har spurgt Dennis privat om møderne med K.L." in box.last_text_to(anna.id)
    question = last(box, dennis)
    await box.tap(dennis, question, button(question, "Ja"))
    assert "Dennis har sagt ja og tager møderne med K.L." in box.last_text_to(anna.id)
    assert "Dennis har sagt ja" not in new_texts(box, mette, mette_before)

    # ...and a broadcast to every volunteer, privately.
    await box.say(anna, "/broadcast Husk kaffen på fredag")
    control = next(m for m in reversed(box.fake.messages_to(anna.id)) if m.buttons)
    await box.tap(anna, control, prefixed(control, "broadcast:aud:", ":volunteers"))
    await box.tap(anna, control, prefixed(control, "broadcast:imp:", ":0"))
    await box.tap(anna, control, prefixed(control, "broadcast:send:"))
    for _ in range(300):  # the copies go out in a lane of their own, in the background
        if control.text.startswith("Din besked er sendt."):
            break
        await asyncio.sleep(0.05)
    assert control.text.startswith("Din besked er sendt.")
    assert box.fake.calls_to("copyMessage"), "the stand-in's broadcast went out"

    # Never the rights over people's data.
    documents_before = len(box.fake.messages_to(anna.id))
    await box.say(anna, "/mydata @bo_frivillig")
    assert ONLY_COORDINATOR in box.last_text_to(anna.id)
    await box.say(anna, "/forgetme @bo_frivillig")
    assert ONLY_COORDINATOR in box.last_text_to(anna.id)
    assert not any(m.get("document") for m in box.fake.messages_to(anna.id)[documents_before:])
    async with box.services.db.transaction() as session:
        assert await people.find_person(session, box.services.group_id, bo.id) is not None

    # A restart in the middle keeps the period.
    await box.advance_to(at(10, 12))
    await box.restart_bot()
    await box.say(anna, "/cover")
    assert ONLY_COORDINATOR not in box.last_text_to(anna.id)

    # The end: the coordinator's summary, through the outbox; Anna is a volunteer again.
    mette_before = len(box.texts_to(mette.id))
    await box.advance_to(at(14, 0, 5))
    welcome = new_texts(box, mette, mette_before)
    assert "Velkommen tilbage! Mens du var væk (mandag 7. december til og med søndag " in welcome
    assert "var Anna din stedfortræder" in welcome
    assert "1 besked om pauser gik til Anna." in welcome
    assert "Nye pauser: 1." in welcome and "Har holdt pause siden da: Bo." in welcome
    assert welcome.count("Velkommen tilbage! Mens du var væk") == 1
    await box.say(anna, "/cover")
    assert "Mette er tilbage, så nu kan kun koordinatoren bruge den kommando igen." in (
        box.last_text_to(anna.id)
    )
    nothing_in_the_group_about_it(box)


async def test_a_volunteer_who_waits_for_the_coordinator_is_never_read_by_the_stand_in(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, (anna, bo, _camilla, _dennis) = cast.coordinator, cast.volunteers
    await everyone_starts(box, cast)
    await set_away(box, cast, "30.11 4.12", "bo_frivillig")
    mette_before, bo_before = len(box.texts_to(mette.id)), len(box.texts_to(bo.id))

    summary = await ask_for_pause(box, anna, note="Det er privat.", wait=True)
    assert "Imens læser Bo det, du fortæller koordinatoren" in summary
    assert "Jeg giver koordinatoren besked, når koordinatoren er tilbage efter fredag " in (
        box.last_text_to(anna.id)
    )
    await box.advance_to(at(2, 10))
    await box.restart_bot()  # what waits is rows: a restart keeps it
    await box.advance_to(at(4, 23))
    assert "Anna" not in new_texts(box, bo, bo_before)
    assert "har bedt om en pause" not in new_texts(box, mette, mette_before)

    await box.advance_to(at(5, 0, 5))
    arrived = new_texts(box, mette, mette_before)
    assert arrived.count("Anna har bedt om en pause") == 1
    assert "Det er privat." in arrived
    assert "Ventede på dig med beskeden om sin pause (du får den nu): Anna" in arrived
    assert "Det er privat." not in new_texts(box, bo, bo_before)
    assert "Anna" not in new_texts(box, bo, bo_before)
    nothing_in_the_group_about_it(box)


async def test_ending_early_sends_what_waited_and_the_summary_now(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, (anna, bo, _camilla, _dennis) = cast.coordinator, cast.volunteers
    await everyone_starts(box, cast)
    await set_away(box, cast, "30.11 20.12", "bo_frivillig")
    await ask_for_pause(box, anna, note=None, wait=True)
    mette_before = len(box.texts_to(mette.id))
    await box.advance_to(at(2, 9))
    await box.say(mette, "/away")
    shown = last(box, mette)
    assert "Bo er din stedfortræder til og med søndag 20. december" in shown.text
    end_now = button(shown, "Jeg er tilbage: afslut det nu")
    await box.tap(mette, shown, end_now)
    await box.run_due()
    arrived = new_texts(box, mette, mette_before)
    assert arrived.count("Anna har bedt om en pause") == 1
    assert "Mens du var væk (mandag 30. november til og med onsdag 2. december)" in arrived
    assert "har bedt om en pause" not in "\n".join(box.texts_to(bo.id))
    # The token is used up: a second tap does nothing.
    await box.forge_tap(mette, shown, end_now)
    await box.advance_to(at(21, 9))
    assert new_texts(box, mette, mette_before).count("Velkommen tilbage! Mens du var") == 1
    await box.say(bo, "/cover")
    assert ONLY_COORDINATOR in box.last_text_to(bo.id)


async def test_only_a_coordinator_sets_a_time_away_and_mistakes_get_a_kind_answer(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, (anna, *_rest) = cast.coordinator, cast.volunteers
    await everyone_starts(box, cast)
    await box.say(anna, "/away 7.12 13.12 @bo_frivillig")
    assert ONLY_COORDINATOR in box.last_text_to(anna.id)
    await box.say(mette, "/away")
    assert "Du har ikke planlagt nogen periode, hvor du er væk." in box.last_text_to(mette.id)
    await box.say(mette, "/away 13.12 7.12 @anna")
    assert "Den sidste dag ligger før den første" in box.last_text_to(mette.id)
    await box.say(mette, "/away 7.12 13.12 @stranger")
    assert "Jeg kan ikke finde @stranger" in box.last_text_to(mette.id)
    await box.say(mette, "/away 7.12 13.12 @mette_koordinator")
    assert "Du kan ikke være din egen stedfortræder" in box.last_text_to(mette.id)
    await box.say(mette, "/away 7.12 @anna")
    assert "fx /away" in box.last_text_to(mette.id)
    await box.say(mette, "/away 7.12 13.12 @anna", in_group=True)
    assert "stedfortræder" not in "\n".join(box.texts_to(GROUP_CHAT_ID))


async def test_the_stand_ins_help_shows_the_everyday_commands_only_while_standing_in(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna = cast.volunteers[0]
    await everyone_starts(box, cast)
    await set_away(box, cast, "7.12 13.12", "anna")
    await box.say(anna, "/help")
    before = box.last_text_to(anna.id)
    assert "stedfortræder" not in before and "/cover" not in before

    await box.advance_to(at(7, 10))
    await box.say(anna, "/help")
    during = box.last_text_to(anna.id)
    assert (
        "Mens du er stedfortræder for Mette (til og med søndag 13. december), kan du også "
        "bruge:" in during
    )
    for command in ("/cover", "/pausevolunteer", "/setmeeting", "/broadcast", "/minutes"):
        assert command in during
    # Never the rights over people's data, nor /away or the group's settings.
    assert "Med et @brugernavn" not in during
    assert "/away" not in during and "/meetingsettings" not in during

    await box.advance_to(at(14, 0, 5))
    await box.say(anna, "/help")
    after = box.last_text_to(anna.id)
    assert after == before


async def pause_with_cover_asked_of_the_stand_in(box: Sandbox, cast: Cast) -> Any:
    """Bo (on K.L.'s match) asks for a pause on the period's last evening; Anna, the
    stand-in, gets the notice with its suggestions, returned."""
    mette, (anna, bo, _camilla, _dennis) = cast.coordinator, cast.volunteers
    await everyone_starts(box, cast)
    await weekly_match(box, "K.L.", bo)
    await set_away(box, cast, "7.12 13.12", "anna")
    await box.advance_to(at(13, 20))
    await ask_for_pause(box, bo, note=None, wait=False)
    notice = next(m for m in reversed(box.fake.messages_to(anna.id)) if m.buttons)
    assert "Bo har bedt om en pause" in notice.text
    assert "har bedt om en pause" not in "\n".join(box.texts_to(mette.id))
    return notice


async def test_an_answer_after_the_period_reaches_the_coordinator_who_is_back(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, (anna, _bo, _camilla, dennis) = cast.coordinator, cast.volunteers
    notice = await pause_with_cover_asked_of_the_stand_in(box, cast)
    await box.tap(anna, notice, button(notice, "Spørg Dennis"))
    question = last(box, dennis)
    await box.advance_to(at(14, 9))  # the period is over; the summary has come
    mette_before, anna_before = len(box.texts_to(mette.id)), len(box.texts_to(anna.id))

    await box.tap(dennis, question, button(question, "Ja"))
    await box.run_due()
    told = new_texts(box, mette, mette_before)
    assert (
        "Mens du var væk, har din stedfortræder Anna spurgt Dennis, om Dennis vil tage møderne "
        "med K.L."
    ) in told
    assert "Dennis har sagt ja og tager møderne med K.L." in told
    assert "Dennis har sagt ja" not in new_texts(box, anna, anna_before)
    nothing_in_the_group_about_it(box)


async def test_a_late_tap_of_the_stand_in_is_passed_back_and_the_coordinator_has_it(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, (anna, _bo, _camilla, dennis) = cast.coordinator, cast.volunteers
    notice = await pause_with_cover_asked_of_the_stand_in(box, cast)
    mette_before = len(box.texts_to(mette.id))
    await box.advance_to(at(14, 9))
    summary = next(m for m in reversed(box.fake.messages_to(mette.id)) if m.buttons)
    assert summary.text.startswith("Velkommen tilbage!")
    assert "Hvem kan tage over?" in summary.text
    assert "Spørg Dennis" in [b["text"] for b in summary.buttons]
    assert new_texts(box, mette, mette_before).count("Velkommen tilbage!") == 1

    dennis_before = len(box.texts_to(dennis.id))
    await box.tap(anna, notice, button(notice, "Spørg Dennis"))
    assert "Mette er tilbage og har overtaget igen" in box.last_text_to(anna.id)
    await box.run_due()
    assert len(box.texts_to(dennis.id)) == dennis_before, "nothing was asked of Dennis"

    await box.tap(mette, summary, button(summary, "Spørg Dennis"))
    assert "Jeg har spurgt Dennis privat om møderne med K.L." in box.last_text_to(mette.id)
    nothing_in_the_group_about_it(box)
