"""One volunteer in two groups: every promise of both groups is kept for her, each private
message names the group it is from, her buttons act for the group they came from, a
command that needs a group asks once and remembers, and a pause covers one group or all.
Nothing of one group reaches the other's coordinator. On SQLite and PostgreSQL; someone
in one group sees no change."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bot.domain import groups
from bot.i18n import texts
from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from handlers.callbacks import STALE
from storage.models import Group, Pause, Person
from tests.e2e import at, button
from tests.test_broadcast_e2e import broadcast, copies_to, eventually
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
    # Her button names Vest: tapped by Bo (only in A), or with a made-up group, it is stale.
    stale = texts("da")(STALE)
    tapped = button(b_reminder, "Aflys denne gang")
    bo_before = len(box.fake.messages_to(bo.id))
    for who, on, forged in (
        (bo, to_bo, tapped),
        (anna, b_reminder, tapped.rpartition("~")[0] + "~AAAAAAAA"),
    ):
        await box.forge_tap(who, on, forged)
        assert box.fake.calls_to("answerCallbackQuery")[-1].params.get("text") == stale
    assert len(box.fake.messages_to(bo.id)) == bo_before
    assert "Ved P.R." not in box.last_text_to(anna.id)
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


def chooser_text(box: Sandbox, user: Any, chooser: Any) -> str:
    """The chooser's text as it is now (edited after the tap)."""
    return next(m.text for m in box.fake.messages_to(user.id) if m.message_id == chooser.message_id)


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
    assert "Fint: Frivillige." in chooser_text(box, anna, chooser)
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


async def pause_as(
    box: Sandbox, anna: Any, group_title: str, scope: str, *, cover: bool, confirm: str = "pause:ok"
) -> str:
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
    await box.tap(anna, summary, data(summary, confirm + "~"))
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
    # Back: here only, or everywhere (asked, as she is on a pause in both).
    mette_before, jonas_before = len(box.texts_to(mette.id)), len(box.texts_to(b.jonas.id))
    await box.say(anna, "/resume")
    chooser = box.fake.messages_to(anna.id)[-1]  # hours later: her choice has lapsed
    await box.tap(anna, chooser, button(chooser, "Frivillige"))
    question = box.fake.messages_to(anna.id)[-1]
    assert labels(question) == ["Kun Frivillige", "Alle mine grupper"]
    await box.tap(anna, question, button(question, "Alle mine grupper"))
    assert await paused_in(box, anna) == set()
    assert "Velkommen tilbage" in private_texts(box, anna, anna_before)
    assert "Anna er tilbage" in private_texts(box, mette, mette_before)
    assert "Anna er tilbage" in private_texts(box, b.jonas, jonas_before)


def group_ids(found: Any) -> set[int]:
    """Every `group_id` in an export, however deep."""
    if isinstance(found, dict):
        own = {found["group_id"]} if "group_id" in found else set()
        return own.union(*(group_ids(v) for v in found.values()))
    if isinstance(found, list):
        return set().union(*(group_ids(v) for v in found))
    return set()


def polls_in(box: Sandbox, chat_id: int) -> list[Any]:
    return [m for m in box.fake.messages_to(chat_id) if m.poll]


async def test_poll_nudges_and_minutes_of_both_groups_each_name_their_group(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    # Each group's own meeting; Anna can only come on the other day in both.
    await box.say(mette, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    await box.say(b.jonas, "/meetingpoll 2026-12-09 19:00, 2026-12-10 19:00")
    [a_poll], [b_poll] = polls_in(box, GROUP_CHAT_ID), polls_in(box, B_CHAT_ID)
    for who, poll, option in ((anna, a_poll, 1), (bo, a_poll, 0), (anna, b_poll, 1)):
        await box.vote(who, poll.poll["id"], [option])
    await box.vote(b.freja, b_poll.poll["id"], [0])
    await box.say(mette, "/setmeeting 2026-12-09 17:00")
    await box.say(b.jonas, "/setmeeting 2026-12-09 19:00")
    await box.advance_to(at(9, 22, 0))
    mette_before, jonas_before = len(box.texts_to(mette.id)), len(box.texts_to(b.jonas.id))
    for coordinator, text in (
        (mette, "Referat: julefrokost."),
        (b.jonas, "Referat: grill i Vest."),
    ):
        await box.say(coordinator, "/minutes")
        await box.say(coordinator, text)
        preview = box.fake.last_message_to(coordinator.id)
        await box.tap(coordinator, preview, button(preview, "Send"))
    await box.settle()
    copies = [m.text for m in box.fake.messages_to(anna.id) if "hvad vi talte om" in (m.text or "")]
    assert len(copies) == 2
    by_group = {text.splitlines()[0]: text for text in copies}
    assert set(by_group) == {FROM_A, FROM_B}
    assert "julefrokost" in by_group[FROM_A] and "grill i Vest" in by_group[FROM_B]
    assert "Vest" not in private_texts(box, mette, mette_before)
    assert "julefrokost" not in private_texts(box, b.jonas, jonas_before)

    # The monthly polls open in both groups; Anna, who answered neither, is nudged by each.
    await box.advance_to(at(15, 10, 0))
    await box.advance_to(at(15, 10, 5))
    assert len(polls_in(box, GROUP_CHAT_ID)) == 2 and len(polls_in(box, B_CHAT_ID)) == 2
    anna_before = len(box.texts_to(anna.id))
    await box.vote(b.freja, polls_in(box, B_CHAT_ID)[-1].poll["id"], [0])
    await box.advance_to(at(19, 10, 0))
    await box.advance_to(at(19, 12, 0))
    nudges = box.fake.messages_to(anna.id)[anna_before:]
    assert len(nudges) == 2
    assert {m.text.splitlines()[0] for m in nudges} == {FROM_A, FROM_B}
    # Each nudge links to its own group's poll.
    links = {m.text.splitlines()[0]: m.buttons[0]["url"] for m in nudges}
    assert links[FROM_B].endswith(f"/{polls_in(box, B_CHAT_ID)[-1].message_id}")
    assert links[FROM_A].endswith(f"/{polls_in(box, GROUP_CHAT_ID)[-1].message_id}")
    # Bo, in one group, gets his nudge as it always was.
    assert not any(t.startswith("Fra ") for t in box.texts_to(bo.id))


async def test_a_broadcast_copy_and_mydata_are_of_one_group_and_say_which(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette, anna = cast.coordinator, cast.volunteers[0]
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.say(b.jonas, '/match @anna "P.R." weekly tue 12:00')
    mette_before = len(box.texts_to(mette.id))
    await broadcast(box, b.jonas, "Husk grillaften i Vest", "volunteers", False)
    await eventually(lambda: copies_to(box, anna.id))
    await box.settle()
    [copy] = copies_to(box, anna.id)
    messages = box.fake.messages_to(anna.id)
    assert messages[messages.index(copy) - 1].text == FROM_B  # the line before the copy
    assert "Vest" not in private_texts(box, mette, mette_before)
    # /mydata asks which group, and the export holds that group's data only.
    await box.say(anna, "/mydata")
    chooser = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, chooser, button(chooser, "Frivillige Vest"))
    export = next(m for m in reversed(box.fake.messages_to(anna.id)) if m.document)
    content = box.fake.files[export.document["file_id"]].content.decode()
    async with box.services.db.transaction() as session:
        b_group = await groups.find_group(session, B_CHAT_ID)
    assert b_group is not None
    assert group_ids(json.loads(content)) == {b_group.id}
    assert not any(m.document for m in box.fake.messages_to(mette.id)[mette_before:])
    assert not any(m.document for m in box.fake.messages_to(b.jonas.id))


async def test_a_coordinators_message_straight_to_her_names_the_group(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    """Not through the outbox (`send_to_person`): Jonas puts Anna on a pause in Vest."""
    box, cast, b = two_groups
    mette, anna = cast.coordinator, cast.volunteers[0]
    mette_before = len(box.texts_to(mette.id))
    await box.say(b.jonas, "/pausevolunteer @anna until 2027-01-15")
    assert "Anna holder nu pause" in box.last_text_to(b.jonas.id)
    told = box.last_text_to(anna.id)
    assert told.startswith(FROM_B + "\n")
    assert await paused_in(box, anna) == {B_CHAT_ID}
    assert "Anna" not in private_texts(box, mette, mette_before)


async def test_all_groups_while_one_coordinator_is_away_says_who_reads_it_there_and_may_wait(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette, anna = cast.coordinator, cast.volunteers[0]
    await box.say(b.jonas, "/away 30.11 6.12 @freja")
    question = box.fake.messages_to(b.jonas.id)[-1]
    await box.tap(b.jonas, question, button(question, "Ja, sæt det op"))
    freja_before, mette_before = len(box.texts_to(b.freja.id)), len(box.texts_to(mette.id))
    summary = await pause_as(
        box, anna, "Frivillige", "Alle mine grupper", cover=False, confirm="pause:okw"
    )
    assert "I Frivillige Vest er koordinatoren væk til og med" in summary
    assert "Imens læser Freja" in summary
    assert await paused_in(box, anna) == {GROUP_CHAT_ID, B_CHAT_ID}
    await box.run_due()
    assert "Anna" not in private_texts(box, b.freja, freja_before)  # it waits for Jonas
    assert "Anna har bedt om en pause" in private_texts(box, mette, mette_before)


async def test_a_typed_answer_goes_to_its_flows_group_and_text_with_no_question_asks_which(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, b = two_groups
    mette, anna = cast.coordinator, cast.volunteers[0]
    jonas_before, mette_before = len(box.texts_to(b.jonas.id)), len(box.texts_to(mette.id))
    await box.say(anna, "/pause")
    chooser = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, chooser, button(chooser, "Frivillige Vest"))
    scope = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, scope, button(scope, "Kun Frivillige Vest"))
    lengths = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, lengths, data(lengths, "pause:len:date"))
    # She switches to the other group meanwhile; her typed date still answers Vest's flow.
    await box.say(anna, "/group")
    chooser = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, chooser, button(chooser, "Frivillige"))
    await box.say(anna, "15.01.2027")
    note_question = box.fake.messages_to(anna.id)[-1]
    await box.tap(anna, note_question, data(note_question, "pause:note:"))
    summary = box.fake.messages_to(anna.id)[-1]
    assert "Kun i Frivillige Vest." in summary.text and "15. januar 2027" in summary.text
    await box.tap(anna, summary, data(summary, "pause:ok~"))
    assert await paused_in(box, anna) == {B_CHAT_ID}
    assert "Anna har bedt om en pause" in private_texts(box, b.jonas, jonas_before)
    assert "Anna" not in private_texts(box, mette, mette_before)
    # Hours later, a text that answers no question (minutes, a greeting) asks which group.
    box.clock.advance(timedelta(hours=7))
    await box.say(anna, "Hej, jeg har et spørgsmål")
    assert "Hvilken gruppe" in box.last_text_to(anna.id)


async def test_the_pause_link_from_a_group_asks_which_group(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, _b = two_groups
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    await box.say(anna, "/start pause")
    chooser = box.fake.messages_to(anna.id)[-1]
    assert "Hvilken gruppe" in chooser.text
    await box.tap(anna, chooser, button(chooser, "Frivillige Vest"))
    assert "alle dine grupper" in box.last_text_to(anna.id)
    await box.say(bo, "/start pause")
    assert "Hvilken gruppe" not in box.last_text_to(bo.id)


async def test_help_offers_group_to_someone_in_several_groups_only(
    two_groups: tuple[Sandbox, Cast, GroupB],
):
    box, cast, _ = two_groups
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    line = "/group – Vælg, hvilken af dine grupper vi taler om"
    await box.say(anna, "/help")
    assert line in box.last_text_to(anna.id)
    await box.say(bo, "/help")
    assert "/group" not in box.last_text_to(bo.id)
