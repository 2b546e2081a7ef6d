"""One volunteer in two groups: every promise of both groups is kept for her, each private
message names the group it is from, her buttons act for the group they came from, a
command that needs a group asks once and remembers, and a pause covers one group or all.
Nothing of one group reaches the other's coordinator. On SQLite and PostgreSQL; someone
in one group sees no change."""

from __future__ import annotations

from typing import Any

from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from tests.e2e import at, button
from tests.test_groups_isolation_e2e import B_CHAT_ID, GroupB, private_texts, two_groups

__all__ = ["two_groups"]  # the fixture, shared with the isolation tests

FROM_A = "Fra Frivillige:"
FROM_B = "Fra Frivillige Vest:"


def reminders(box: Sandbox, user: Any, since: int = 0) -> list[Any]:
    return [m for m in box.fake.messages_to(user.id)[since:] if "Påmindelse" in (m.text or "")]


async def test_reminders_of_both_groups_name_their_group_and_buttons_act_there(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00')
    await box.say(b.jonas, '/match @anna @freja "P.R." weekly tue 12:00')
    await box.advance_to(at(30, 18, 5, month=11))
    got = reminders(box, anna)
    assert len(got) == 2
    by_group = {m.text.splitlines()[0]: m for m in got}
    assert set(by_group) == {FROM_A, FROM_B}
    assert "K.L." in by_group[FROM_A].text and "P.R." in by_group[FROM_B].text
    # Bo and Freja, each in one group, get the reminder as it always was.
    [to_bo] = reminders(box, bo)
    [to_freja] = reminders(box, b.freja)
    assert to_bo.text.startswith("Påmindelse") and to_freja.text.startswith("Påmindelse")
    # Anna can't come to the one in Vest: Vest's match, Freja and Jonas hear of it.
    jonas_before, mette_before = len(box.texts_to(b.jonas.id)), len(box.texts_to(mette.id))
    b_reminder = by_group[FROM_B]
    await box.tap(anna, b_reminder, button(b_reminder, "Aflys denne gang"))
    question = box.fake.messages_to(anna.id)[-1]
    assert "Ved P.R., at du ikke kan komme" in question.text
    await box.tap(anna, question, button(question, "Nej, kan koordinatoren give besked?"))
    assert "Jeg har bedt koordinatoren om at give P.R. besked" in box.last_text_to(anna.id)
    assert "Anna kan ikke komme til mødet med P.R." in private_texts(box, b.jonas, jonas_before)
    assert "Anna" in box.last_text_to(b.freja.id)
    assert "Anna kan ikke" not in box.last_text_to(bo.id)
    assert "P.R." not in private_texts(box, mette, mette_before)
    assert box.fake.messages_to(GROUP_CHAT_ID) == [] and box.fake.messages_to(B_CHAT_ID) == []
