"""End to end: the group's own settings, set by its coordinator in the private chat:
`/crisishelp` (what the volunteers see in the pause flow: show, set, back to the standard)
and `/digest` (when the weekly overview comes). Never by a volunteer, nor by the
coordinator's stand-in; one group's coordinator never reaches another group's
(tests/test_groups_isolation_e2e.py)."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox, sandbox
from tests.e2e import at, button, everyone_starts
from tests.test_away_e2e import ONLY_COORDINATOR, ask_for_pause, set_away

LIVSLINIEN = "Livslinien: 70 201 201"
OWN = "Ring til foreningens telefonvagt på 12 34 56 78.\nAkut fare: 112."


async def test_the_coordinator_sets_the_crisis_help_the_volunteers_see_and_resets_it(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, (anna, bo, camilla, _dennis) = cast.coordinator, cast.volunteers
    await everyone_starts(box, cast)
    await box.say(mette, "/crisishelp")
    shown = box.last_text_to(mette.id)
    assert "Når dine frivillige beder om en pause, ser de:" in shown
    assert LIVSLINIEN in shown and "Det er standardteksten." in shown

    await box.say(mette, f"/crisishelp {OWN}")
    saved = box.last_text_to(mette.id)
    assert saved.startswith("Gemt. Fra nu af ser dine frivillige:")
    assert "Hvis det føles meget svært lige nu, kan du få hjælp med det samme: Ring til " in saved
    assert "12 34 56 78.\nAkut fare: 112." in saved
    await box.say(mette, "/crisishelp")
    assert "Det er jeres gruppes egen tekst." in box.last_text_to(mette.id)

    # The pause flow shows the group's own text.
    await ask_for_pause(box, bo, note=None, wait=False)
    started = box.last_text_to(bo.id)
    assert "Din pause er startet" in started
    assert OWN in started and LIVSLINIEN not in started

    # A volunteer can't change it, nor can the coordinator's stand-in.
    await box.say(anna, "/crisishelp Noget andet")
    assert ONLY_COORDINATOR in box.last_text_to(anna.id)
    await set_away(box, cast, "30.11 4.12", "anna")
    await box.say(anna, "/crisishelp Noget andet")
    assert ONLY_COORDINATOR in box.last_text_to(anna.id)
    await box.say(anna, "/meetingsettings")
    assert ONLY_COORDINATOR in box.last_text_to(anna.id)

    # Also found under /settings, for the coordinator only.
    await box.say(mette, "/settings")
    menu = box.fake.messages_to(mette.id)[-1]
    assert {"Krisehjælp", "Ugentligt overblik"} <= {b["text"] for b in menu.buttons}
    await box.tap(mette, menu, button(menu, "Krisehjælp"))
    assert "Det er jeres gruppes egen tekst." in box.last_text_to(mette.id)
    await box.tap(mette, menu, button(menu, "Ugentligt overblik"))
    assert "kommer hver mandag kl. 09.00" in box.last_text_to(mette.id)
    await box.say(anna, "/settings")
    menu = box.fake.messages_to(anna.id)[-1]
    assert "Krisehjælp" not in {b["text"] for b in menu.buttons}
    await box.forge_tap(anna, menu, "groupset:crisis")
    assert "Det er jeres gruppes egen tekst." not in box.last_text_to(anna.id)

    await box.say(mette, "/crisishelp standard")
    assert "dine frivillige ser standardteksten igen" in box.last_text_to(mette.id)
    await ask_for_pause(box, camilla, note=None, wait=False)
    assert LIVSLINIEN in box.last_text_to(camilla.id)
    assert box.fake.messages_to(GROUP_CHAT_ID) == []


def overviews(box: Sandbox, cast: Cast) -> int:
    heading = "Dit ugentlige overblik over match og aktiviteter.\n"
    return sum(t.startswith(heading) for t in box.texts_to(cast.coordinator.id))


async def test_the_coordinator_moves_the_weekly_overview_and_it_comes_then(tmp_path: Path):
    start = at(30, 9, month=11)  # a Monday; the overview comes on Mondays at 09.00
    async with sandbox(tmp_path / "db.sqlite3", start, unmatched_weeks=1) as (box, cast):
        mette, anna = cast.coordinator, cast.volunteers[0]
        await everyone_starts(box, cast)
        await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
        await box.run_due()
        await box.say(mette, "/digest")
        assert "Dit ugentlige overblik over match og aktiviteter kommer hver mandag kl. 09.00." in (
            box.last_text_to(mette.id)
        )
        await box.say(mette, "/digest fredag 14.00")
        assert "Gemt: dit ugentlige overblik kommer hver fredag kl. 14.00 fra nu af." in (
            box.last_text_to(mette.id)
        )
        await box.say(anna, "/digest mandag 9.00")
        assert ONLY_COORDINATOR in box.last_text_to(anna.id)
        await box.say(mette, "/digest someday")
        assert "Det kunne jeg ikke læse" in box.last_text_to(mette.id)

        before = overviews(box, cast)
        await box.advance_to(at(7, 12))  # Monday 09.00 has passed: nothing then
        assert overviews(box, cast) == before
        await box.advance_to(at(11, 13, 59))
        assert overviews(box, cast) == before
        await box.advance_to(at(11, 14, 1))
        assert overviews(box, cast) == before + 1
        assert "Bo, uden match siden mandag 30. november" in box.last_text_to(mette.id)

        await box.say(mette, "/digest standard")
        assert "dit ugentlige overblik kommer hver mandag kl. 09.00 igen" in (
            box.last_text_to(mette.id)
        )
        await box.run_due()  # the next pass promises Monday's (they run every minute)
        await box.advance_to(at(14, 9, 1))
        assert overviews(box, cast) == before + 2
