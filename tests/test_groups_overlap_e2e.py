"""One volunteer in two groups: every promise of both groups is kept for her, each private
message names the group it is from, her buttons act for the group they came from, a
command that needs a group asks once and remembers, and a pause covers one group or all.
Nothing of one group reaches the other's coordinator. On SQLite and PostgreSQL; someone
in one group sees no change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Group, Pause, Person
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


def labels(message: Any) -> list[str]:
    return [b["text"] for b in message.buttons]


async def test_a_command_that_needs_a_group_asks_once_and_remembers(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00')
    await box.say(b.jonas, '/match @anna @freja "P.R." weekly tue 12:00')
    await box.say(anna, "/meetings")
    chooser = box.fake.messages_to(anna.id)[-1]
    assert "Hvilken gruppe" in chooser.text
    assert labels(chooser) == ["Frivillige", "Frivillige Vest"]
    await box.tap(anna, chooser, button(chooser, "Frivillige Vest"))
    assert "Fint: Frivillige Vest" in box.fake.messages_to(anna.id)[-2].text
    shown = box.last_text_to(anna.id)
    assert "P.R." in shown and "K.L." not in shown  # the command went on, in Vest
    # Remembered: the next command is Vest's without asking.
    await box.say(anna, "/meetings")
    assert "P.R." in box.last_text_to(anna.id) and "Hvilken" not in box.last_text_to(anna.id)
    # A button on that answer acts in Vest.
    meetings = box.fake.messages_to(anna.id)[-1]
    assert meetings.buttons
    # /group chooses again.
    await box.say(anna, "/group")
    chooser = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, chooser, button(chooser, "Frivillige"))
    assert "send the command again" not in box.last_text_to(anna.id)
    await box.say(anna, "/meetings")
    assert "K.L." in box.last_text_to(anna.id) and "P.R." not in box.last_text_to(anna.id)
    # The choice lapses after hours of silence: asked again.
    box.clock.advance(timedelta(hours=7))
    await box.say(anna, "/meetings")
    assert "Hvilken gruppe" in box.last_text_to(anna.id)
    # Someone in one group is never asked.
    for user in (bo, b.freja, mette, b.jonas):
        await box.say(user, "/meetings")
        assert "Hvilken gruppe" not in box.last_text_to(user.id)


def data(message: Any, prefix: str) -> str:
    """The callback data of the button whose data starts so (it may name its group)."""
    return next(
        b["callback_data"] for b in message.buttons if b["callback_data"].startswith(prefix)
    )


async def paused_in(box: Sandbox, user: Any) -> set[int]:
    """The chat ids of the groups where this person is on a pause now."""
    async with box.services.db.transaction() as session:
        rows = await session.execute(
            select(Group.chat_id)
            .join(Person, Person.group_id == Group.id)
            .join(Pause, Pause.person_id == Person.id)
            .where(Person.telegram_user_id == user.id, Pause.ended_at.is_(None))
        )
        return {chat_id for (chat_id,) in rows}


async def pause_as(box: Sandbox, anna: Any, group_title: str, scope: str, *, cover: bool) -> str:
    """Anna's /pause, choosing the group, then the scope; two weeks; no message. Returns
    the summary she was shown."""
    await box.say(anna, "/pause")
    chooser = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, chooser, button(chooser, group_title))
    question = box.fake.messages_to(anna.id)[-1]
    assert "alle dine grupper" in question.text
    await box.tap(anna, question, button(question, scope))
    await box.tap(
        anna,
        box.fake.messages_to(anna.id)[-1],
        data(box.fake.messages_to(anna.id)[-1], "pause:len:2w"),
    )
    if cover:
        cover_question = box.fake.messages_to(anna.id)[-1]
        assert "K.L." in cover_question.text and "P.R." in cover_question.text
        await box.tap(anna, cover_question, data(cover_question, "pause:cover:yes"))
    note_question = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, note_question, data(note_question, "pause:note:"))
    summary = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, summary, data(summary, "pause:ok"))
    await box.settle()
    return summary.text


async def test_a_pause_from_one_group_is_told_there_only(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette, anna = cast.coordinator, cast.volunteers[0]
    mette_before, jonas_before = len(box.texts_to(mette.id)), len(box.texts_to(b.jonas.id))
    summary = await pause_as(box, anna, "Frivillige Vest", "Kun Frivillige Vest", cover=False)
    assert "Kun i Frivillige Vest." in summary
    assert await paused_in(box, anna) == {B_CHAT_ID}
    assert "Anna har bedt om en pause" in private_texts(box, b.jonas, jonas_before)
    assert "Anna" not in private_texts(box, mette, mette_before)
    assert "Jeg har givet koordinatoren besked." in box.last_text_to(anna.id)
    assert box.fake.messages_to(GROUP_CHAT_ID) == [] and box.fake.messages_to(B_CHAT_ID) == []


async def test_a_pause_from_all_groups_covers_each_and_each_coordinator_hears_of_their_own(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00')
    await box.say(b.jonas, '/match @anna @freja "P.R." weekly tue 12:00')
    mette_before, jonas_before = len(box.texts_to(mette.id)), len(box.texts_to(b.jonas.id))
    summary = await pause_as(box, anna, "Frivillige", "Alle mine grupper", cover=True)
    assert "I alle dine grupper: Frivillige og Frivillige Vest." in summary
    assert await paused_in(box, anna) == {GROUP_CHAT_ID, B_CHAT_ID}
    to_mette = private_texts(box, mette, mette_before)
    to_jonas = private_texts(box, b.jonas, jonas_before)
    assert "Anna har bedt om en pause" in to_mette and "Anna har bedt om en pause" in to_jonas
    assert "K.L." in to_mette and "P.R." not in to_mette and "Vest" not in to_mette
    assert "P.R." in to_jonas and "K.L." not in to_jonas
    assert "Jeg har givet koordinatoren besked." in box.last_text_to(anna.id)
    # Pause means quiet in both groups; the others' reminders go on.
    anna_before = len(box.fake.messages_to(anna.id))
    await box.advance_to(at(30, 18, 5, month=11))
    assert reminders(box, anna, anna_before) == []
    assert len(reminders(box, bo)) == 1 and len(reminders(box, b.freja)) == 1
    assert box.fake.messages_to(GROUP_CHAT_ID) == [] and box.fake.messages_to(B_CHAT_ID) == []
