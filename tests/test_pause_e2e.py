"""End to end: asking for a pause, keeping in touch, and coming back, over the fake Bot API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.domain import matches as match_rules
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Pause, Person

# The sandbox starts on Monday 30 November 2026 at 09:00 in Copenhagen.
START = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)


def local(day: date, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=COPENHAGEN)


async def pause_rows(box: Sandbox) -> list[Pause]:
    async with box.services.db.transaction() as session:
        return list(await session.scalars(select(Pause).order_by(Pause.id)))


async def person_id(box: Sandbox, user: Any) -> int:
    async with box.services.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == user.id))
        assert person is not None
        return person.id


async def paused_ids(box: Sandbox) -> set[int]:
    from bot.domain import people

    async with box.services.db.transaction() as session:
        return await people.paused_person_ids(
            session, box.services.group_id, box.services.clock.now()
        )


def checkins(box: Sandbox, coordinator: Any, since: int) -> list[str]:
    """The coordinator's check-in reminders since message number `since` (other features,
    e.g. the weekly matches overview, also write to the coordinator)."""
    return [t for t in box.texts_to(coordinator.id)[since:] if "holdt pause siden" in t]


def button_data(message: Any, text: str) -> str:
    """The callback data of the button labelled `text` (confirmations carry a token)."""
    return next(b["callback_data"] for b in message.buttons if b["text"] == text)


def last(box: Sandbox, user: Any) -> Any:
    message = box.fake.last_message_to(user.id)
    assert message is not None
    return message


async def weekly_match(box: Sandbox, label: str, *users: Any, weekday: int = 0) -> int:
    """A match (Mondays 16:00 by default) with these volunteers, made through the rules."""
    ids = [await person_id(box, u) for u in users]
    async with box.services.db.transaction() as session:
        match = await match_rules.create_match(
            session,
            box.services.group_id,
            kind="match",
            label=label,
            volunteer_ids=ids,
            plan=match_rules.Plan(rhythm="weekly", weekday=weekday, at=time(16, 0)),
            place=None,
            now=box.services.clock.now(),
            tz=box.services.tz,
        )
        return match.id


async def ask_for_pause(
    box: Sandbox,
    user: Any,
    length: str,
    *,
    cover: str | None = None,
    note: str | None = None,
) -> None:
    """Walk the whole private flow: /pause, a length (button or typed date), the cover
    question when asked, a message or "Ingen besked", and the confirmation."""
    await box.say(user, "/pause")
    first = last(box, user)
    if length in ("2w", "1m", "3m", "open"):
        await box.tap(user, first, f"pause:len:{length}")
    else:
        await box.tap(user, first, "pause:len:date")
        assert "Skriv den fx sådan her" in box.last_text_to(user.id)
        await box.say(user, length)
    if cover is not None:
        await box.tap(user, last(box, user), f"pause:cover:{cover}")
    if note is None:
        await box.tap(user, last(box, user), "pause:note:none")
    else:
        await box.say(user, note)
    summary = last(box, user)
    assert "Skal jeg gå i gang?" in summary.text
    await box.tap(user, summary, "pause:ok")


def record_events(box: Sandbox, seen: list[tuple[str, str, int]]) -> None:
    """Collect (event, first name, pause id) for every pause_started / pause_ended."""

    def listen(name: str):
        async def listener(context: Any, *, person: Person, pause: Pause) -> None:
            seen.append((name, person.first_name, pause.id))

        return listener

    box.services.on("pause_started", listen("pause_started"))
    box.services.on("pause_ended", listen("pause_ended"))


@pytest.fixture
def events(group: tuple[Sandbox, Cast]) -> list[tuple[str, str, int]]:
    seen: list[tuple[str, str, int]] = []
    record_events(group[0], seen)
    return seen


# Asking ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "planned_day", "shown"),
    [
        ("2w", date(2026, 12, 14), "mandag 14. december"),
        ("1m", date(2026, 12, 30), "onsdag 30. december"),
        ("3m", date(2027, 2, 28), "søndag 28. februar"),
        ("open", None, "uden slutdato"),
        ("15-01-2027", date(2027, 1, 15), "fredag 15. januar"),
        ("2027-01-15", date(2027, 1, 15), "fredag 15. januar"),
    ],
)
async def test_the_whole_private_flow_with_each_duration(
    group: tuple[Sandbox, Cast],
    events: list[tuple[str, str, int]],
    length: str,
    planned_day: date | None,
    shown: str,
):
    box, cast = group
    anna, mette = cast.volunteers[0], cast.coordinator
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    coordinator_before = len(box.texts_to(mette.id))

    await ask_for_pause(box, anna, length)

    [pause] = await pause_rows(box)
    assert pause.ended_at is None and pause.started_at == START.astimezone(UTC)
    if planned_day is None:
        assert pause.until is None
    else:
        assert pause.until == local(planned_day)  # 10:00 local on the chosen day
    assert await paused_ids(box) == {await person_id(box, anna)}
    done = box.last_text_to(anna.id)
    assert "Din pause er startet" in done and "/resume" in done
    assert "Livslinien: 70 201 201" in done  # where to get help at once, shown gently
    [notice] = box.texts_to(mette.id)[coordinator_before:]
    assert "Anna har bedt om en pause" in notice and shown in notice
    assert box.fake.messages_to(GROUP_CHAT_ID) == []
    assert events == [("pause_started", "Anna", pause.id)]


async def test_the_pause_button_under_start_and_help_opens_the_flow(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    welcome = last(box, anna)
    assert {"text": "Jeg har brug for en pause", "callback_data": "pause:begin"} in welcome.buttons
    await box.tap(anna, welcome, "pause:begin")
    opening = box.last_text_to(anna.id)
    assert "Det er helt i orden at holde pause" in opening
    assert "Livslinien: 70 201 201" in opening and "112" in opening
    assert "hvorfor" not in opening.lower()  # no reason is ever asked for
    await box.say(anna, "/help")
    assert "pause:begin" in [b.get("callback_data") for b in last(box, anna).buttons]


async def test_a_bad_date_gets_a_kind_answer_with_an_example_and_is_asked_again(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    await box.say(anna, "/pause")
    await box.tap(anna, last(box, anna), "pause:len:date")
    await box.say(anna, "i næste uge")
    assert "Skriv den gerne sådan her: 30.12.2026" in box.last_text_to(anna.id)
    await box.say(anna, "31-02-2027")
    assert "kunne jeg ikke læse som en dato" in box.last_text_to(anna.id)
    await box.say(anna, "01-11-2026")
    assert "ikke efter i dag" in box.last_text_to(anna.id)
    assert await pause_rows(box) == []
    await box.say(anna, "2027-03-01")
    assert "Vil du sende et par ord til koordinatoren?" in box.last_text_to(anna.id)


async def test_not_now_changes_nothing(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    await box.say(anna, "/pause")
    await box.tap(anna, last(box, anna), "pause:cancel")
    assert "intet er ændret" in box.last_text_to(anna.id)
    # Text typed afterwards is not taken as part of the flow.
    await box.say(anna, "15-01-2027")
    assert await pause_rows(box) == []


async def test_coordinator_message_holds_everything_and_the_group_gets_nothing(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna, mette = cast.volunteers[0], cast.coordinator
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    await weekly_match(box, "K.L.", anna)
    group_before = len(box.fake.messages_to(GROUP_CHAT_ID))
    coordinator_before = len(box.texts_to(mette.id))

    await box.say(anna, "/pause")
    await box.tap(anna, last(box, anna), "pause:len:2w")
    cover_question = box.last_text_to(anna.id)
    assert "K.L." in cover_question and "midlertidig frivillig" in cover_question
    await box.tap(anna, last(box, anna), "pause:cover:yes")
    await box.say(anna, "Jeg ringer til dig i næste uge.")
    summary = box.last_text_to(anna.id)
    assert "til og med mandag 14. december" in summary and "midlertidig frivillig" in summary
    await box.tap(anna, last(box, anna), "pause:ok")

    [notice] = box.texts_to(mette.id)[coordinator_before:]
    assert "Anna har bedt om en pause" in notice
    assert "Foreløbig til og med mandag 14. december" in notice
    assert "K.L." in notice
    # The meetings the pause touches: today, the 7th and (its last day) the 14th at 16:00.
    assert (
        "• K.L.: mandag 30. november kl. 16.00, mandag 7. december kl. 16.00, "
        "mandag 14. december kl. 16.00\n"
    ) in notice
    assert "Anna vil gerne have, at du finder en midlertidig frivillig" in notice
    assert "Besked fra Anna:\nJeg ringer til dig i næste uge." in notice
    assert len(box.fake.messages_to(GROUP_CHAT_ID)) == group_before
    [pause] = await pause_rows(box)
    assert pause.wants_cover is True


async def test_telling_the_citizen_themselves_is_passed_on(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna, mette = cast.volunteers[0], cast.coordinator
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    await weekly_match(box, "K.L.", anna)
    await ask_for_pause(box, anna, "open", cover="self")
    notice = box.last_text_to(mette.id)
    assert "Anna giver selv K.L. besked" in notice
    assert "Ingen besked fra Anna" in notice
    [pause] = await pause_rows(box)
    assert pause.wants_cover is False


# Privacy in the group ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["/pause", "/pause@peerbot_demo_bot"])
async def test_pause_in_the_group_is_deleted_and_answered_only_with_a_deep_link(
    group: tuple[Sandbox, Cast], command: str
):
    box, cast = group
    bo = cast.volunteers[1]
    written = box.fake.send_text(bo, GROUP_CHAT_ID, command)
    await box.fake.wait_until_idle()
    [deletion] = box.fake.calls_to("deleteMessage")
    assert deletion.ok and deletion.params["message_id"] == written["message_id"]
    assert box.fake.chats[GROUP_CHAT_ID].messages[written["message_id"]].deleted
    [answer] = box.fake.messages_to(GROUP_CHAT_ID)
    assert answer.text == "Lad os tale privat. Tryk på knappen for at åbne vores private chat."
    assert answer.buttons == [
        # The same link as for every private-only command: nothing singles out a pause.
        {"text": "Åbn en privat chat", "url": "https://t.me/peerbot_demo_bot"}
    ]
    assert await pause_rows(box) == []


async def test_pause_in_the_group_when_not_admin_asks_them_to_delete_it(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    box.fake.set_bot_status(GROUP_CHAT_ID, "member")
    bo = cast.volunteers[1]
    written = box.fake.send_text(bo, GROUP_CHAT_ID, "/pause")
    await box.fake.wait_until_idle()
    assert not box.fake.chats[GROUP_CHAT_ID].messages[written["message_id"]].deleted
    [answer] = box.fake.messages_to(GROUP_CHAT_ID)
    assert "Lad os tale privat" in answer.text
    assert "Du må gerne slette din besked her i gruppen." in answer.text
    assert "pause" not in answer.text.lower()
    assert answer.buttons[0]["url"] == "https://t.me/peerbot_demo_bot"


async def test_the_deep_link_registers_and_opens_the_flow(group: tuple[Sandbox, Cast]):
    box, cast = group
    dennis = cast.volunteers[3]
    box.fake.start_bot(dennis, "pause")
    await box.fake.wait_until_idle()
    assert "Det er helt i orden at holde pause" in box.last_text_to(dennis.id)
    async with box.services.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == dennis.id))
        assert person is not None and person.started_bot
    # A stranger following the link is refused kindly and nothing is kept.
    box.fake.start_bot(cast.stranger, "pause")
    await box.fake.wait_until_idle()
    assert "only help its members" in box.last_text_to(cast.stranger.id)


# While paused --------------------------------------------------------------------------------


async def test_while_paused_no_match_reminder_reaches_the_volunteer(group: tuple[Sandbox, Cast]):
    pytest.importorskip("handlers.matches", reason="the matches feature sends match reminders")
    box, cast = group
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    for user in (cast.coordinator, anna, bo):
        await box.say(user, "/start")
    await weekly_match(box, "K.L.", anna, bo, weekday=2)  # Wednesdays 16:00
    await ask_for_pause(box, anna, "1m", cover="yes")
    anna_before, bo_before = len(box.texts_to(anna.id)), len(box.texts_to(bo.id))
    # Past both reminders (the day before and two hours before) of Wednesday 2 December.
    await box.advance_to(local(date(2026, 12, 1), 18, 5))
    await box.advance_to(local(date(2026, 12, 2), 14, 5))
    assert len(box.texts_to(bo.id)) > bo_before, "Bo (not paused) should get his reminders"
    assert box.texts_to(anna.id)[anna_before:] == []
    # Back again: her reminders start by themselves.
    await box.say(anna, "/resume")
    anna_back = len(box.texts_to(anna.id))
    await box.advance_to(local(date(2026, 12, 8), 18, 5))
    assert len(box.texts_to(anna.id)) > anna_back


# Keeping in touch ------------------------------------------------------------------------------


async def test_end_date_question_and_checkins_come_at_the_right_time(
    group: tuple[Sandbox, Cast], events: list[tuple[str, str, int]]
):
    box, cast = group
    anna, mette = cast.volunteers[0], cast.coordinator
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    await ask_for_pause(box, anna, "2w")  # until Monday 14 December
    anna_before, mette_before = len(box.texts_to(anna.id)), len(box.texts_to(mette.id))

    await box.advance_to(local(date(2026, 12, 14), 9, 59))
    assert box.texts_to(anna.id)[anna_before:] == []
    await box.advance_to(local(date(2026, 12, 14), 10, 0))
    [question] = box.fake.messages_to(anna.id)[anna_before:]
    assert "Din pause var planlagt til at slutte i dag" in question.text
    assert [b["text"] for b in question.buttons] == [
        "Ja, jeg er tilbage",
        "Lidt længere",
        "Lad os tale sammen",
    ]
    # Asked once: neither another pass nor a restart repeats it.
    await box.advance(timedelta(minutes=30))
    await box.restart_bot()
    record_events(box, events)  # a restarted bot has fresh listeners
    await box.run_due()
    assert len(box.texts_to(anna.id)) == anna_before + 1
    assert checkins(box, mette, mette_before) == []  # the check-in comes after 3 weeks

    # "Lidt længere": the same choices, then the new date; the coordinator is told.
    await box.tap(anna, question, "pause:more")
    await box.tap(anna, last(box, anna), "pause:len:2w")
    assert "Din pause varer nu til og med mandag 28. december" in box.last_text_to(anna.id)
    assert "Anna vil gerne holde lidt længere pause, nu til og med mandag 28. december" in (
        box.last_text_to(mette.id)
    )
    mette_before = len(box.texts_to(mette.id))

    # The coordinator's check-in reminder: three weeks after the start, at 10:00.
    await box.advance_to(local(date(2026, 12, 21), 9, 59))
    assert checkins(box, mette, mette_before) == []
    await box.advance_to(local(date(2026, 12, 21), 10, 1))
    [checkin] = checkins(box, mette, mette_before)
    assert "Anna har holdt pause siden mandag 30. november" in checkin
    await box.run_due()
    assert len(checkins(box, mette, mette_before)) == 1

    # On the new date the question comes again; "Lad os tale sammen" tells the coordinator.
    await box.advance_to(local(date(2026, 12, 28), 10, 0))
    question = last(box, anna)
    assert "Din pause var planlagt til at slutte i dag" in question.text
    await box.tap(anna, question, "pause:talk")
    assert "Anna vil gerne tale med dig om sin pause" in box.last_text_to(mette.id)
    assert "kontakter dig" in box.last_text_to(anna.id)
    assert await paused_ids(box) == {await person_id(box, anna)}

    # Later she taps "Ja, jeg er tilbage" on the same question: the pause ends.
    await box.tap(anna, question, "pause:back")
    assert "Velkommen tilbage, Anna" in box.last_text_to(anna.id)
    assert "Anna er tilbage fra sin pause" in box.last_text_to(mette.id)
    assert await paused_ids(box) == set()
    [pause] = await pause_rows(box)
    assert events == [("pause_started", "Anna", pause.id), ("pause_ended", "Anna", pause.id)]
    # Nothing more comes about this pause.
    mette_before, anna_before = len(box.texts_to(mette.id)), len(box.texts_to(anna.id))
    await box.advance_to(local(date(2027, 3, 1), 10, 0))
    assert [t for t in box.texts_to(mette.id)[mette_before:] if "pause" in t.lower()] == []
    assert box.texts_to(anna.id)[anna_before:] == []
    assert box.fake.messages_to(GROUP_CHAT_ID) == []


async def test_an_open_ended_pause_is_asked_about_after_six_weeks_never_more_often(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna = cast.volunteers[0]
    await box.say(anna, "/start")
    await ask_for_pause(box, anna, "open")
    before = len(box.texts_to(anna.id))
    await box.advance_to(local(date(2027, 1, 11), 9, 59))  # six weeks minus a minute
    assert box.texts_to(anna.id)[before:] == []
    await box.advance_to(local(date(2027, 1, 11), 10, 0))
    [question] = box.texts_to(anna.id)[before:]
    assert "Det er et stykke tid siden, din pause begyndte" in question
    # No answer: not asked again for another six weeks.
    await box.advance_to(local(date(2027, 2, 21), 10, 0))
    assert len(box.texts_to(anna.id)) == before + 1
    await box.advance_to(local(date(2027, 2, 22), 10, 0))
    assert len(box.texts_to(anna.id)) == before + 2
    # "Lidt længere" with "Jeg ved det ikke endnu" waits six weeks again.
    await box.tap(anna, last(box, anna), "pause:more")
    await box.tap(anna, last(box, anna), "pause:len:open")
    assert "spørger igen om et par uger" in box.last_text_to(anna.id)
    after = len(box.texts_to(anna.id))
    await box.advance_to(local(date(2027, 4, 5), 9, 0))
    assert len(box.texts_to(anna.id)) == after
    await box.advance_to(local(date(2027, 4, 5), 10, 0))
    assert len(box.texts_to(anna.id)) == after + 1


# Coming back -------------------------------------------------------------------------------------


async def test_resume_restores_everything(
    group: tuple[Sandbox, Cast], events: list[tuple[str, str, int]]
):
    box, cast = group
    anna, mette = cast.volunteers[0], cast.coordinator
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    await ask_for_pause(box, anna, "3m")
    await box.say(anna, "/pause")  # already paused: offered to change the date or come back
    # The end is "til og med" a day: a bare day in parentheses reads as when it began.
    assert "Du holder allerede pause (til og med " in box.last_text_to(anna.id)
    box.clock.advance(timedelta(days=9))
    await box.say(anna, "/resume")
    assert "Velkommen tilbage, Anna" in box.last_text_to(anna.id)
    assert "Anna er tilbage fra sin pause" in box.last_text_to(mette.id)
    [pause] = await pause_rows(box)
    assert pause.ended_at == (START + timedelta(days=9)).astimezone(UTC)
    assert await paused_ids(box) == set()
    assert [e[0] for e in events] == ["pause_started", "pause_ended"]
    await box.say(anna, "/resume")
    assert "Du holder ikke pause lige nu" in box.last_text_to(anna.id)
    # She may pause again later.
    await ask_for_pause(box, anna, "2w")
    assert await paused_ids(box) == {await person_id(box, anna)}


@pytest.mark.parametrize("command", ["/resume", "/pausevolunteer @anna", "/resumevolunteer @anna"])
async def test_other_pause_commands_in_the_group_are_removed_too(
    group: tuple[Sandbox, Cast], command: str
):
    box, cast = group
    anna, mette = cast.volunteers[0], cast.coordinator
    await box.say(anna, "/start")
    sender = anna if command == "/resume" else mette
    written = box.fake.send_text(sender, GROUP_CHAT_ID, command)
    await box.fake.wait_until_idle()
    assert box.fake.chats[GROUP_CHAT_ID].messages[written["message_id"]].deleted
    [answer] = box.fake.messages_to(GROUP_CHAT_ID)
    assert "privat" in answer.text and "pause" not in answer.text.lower()
    assert answer.buttons[0]["url"] == "https://t.me/peerbot_demo_bot"
    assert await pause_rows(box) == []


# The coordinator ---------------------------------------------------------------------------------


async def test_coordinator_pauses_and_resumes_a_volunteer_by_name(
    group: tuple[Sandbox, Cast], events: list[tuple[str, str, int]]
):
    box, cast = group
    anna, mette = cast.volunteers[0], cast.coordinator
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    await box.say(mette, "/pausevolunteer @anna until 2027-01-15")
    assert "Anna holder nu pause" in box.last_text_to(mette.id)
    assert "Foreløbig til og med fredag 15. januar" in box.last_text_to(mette.id)
    told = box.last_text_to(anna.id)
    assert "Din pause er nu registreret" in told and "/resume" in told
    [pause] = await pause_rows(box)
    assert pause.until == local(date(2027, 1, 15))
    await box.say(mette, "/pausevolunteer @anna")
    assert "Anna holder allerede pause" in box.last_text_to(mette.id)

    await box.say(mette, "/resumevolunteer @anna")
    assert "Pausen for Anna er slut" in box.last_text_to(mette.id)
    assert "Din pause er slut, som du og koordinatoren har aftalt" in box.last_text_to(anna.id)
    assert await paused_ids(box) == set()
    assert [e[0] for e in events] == ["pause_started", "pause_ended"]
    # In Danish, as the glossary writes end dates.
    await box.say(mette, "/pausevolunteer @anna til og med 20.1.2027")
    assert "Foreløbig til og med onsdag 20. januar" in box.last_text_to(mette.id)
    await box.say(mette, "/resumevolunteer @anna")
    await box.say(mette, "/pausevolunteer @nobody")
    assert "Jeg kender ikke @nobody" in box.last_text_to(mette.id)
    assert "fx /pausevolunteer @navn" in box.last_text_to(mette.id)  # a correct example
    await box.say(mette, "/resumevolunteer @nobody")
    assert "Jeg kender ikke @nobody" in box.last_text_to(mette.id)
    assert "fx /resumevolunteer @navn" in box.last_text_to(mette.id)
    assert box.fake.messages_to(GROUP_CHAT_ID) == []


async def test_coordinator_pauses_and_resumes_with_buttons(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna, bo, mette = cast.volunteers[0], cast.volunteers[1], cast.coordinator
    for user in (mette, anna, bo):
        await box.say(user, "/start")
    await box.say(mette, "/pausevolunteer")
    chooser = last(box, mette)
    assert [b["text"] for b in chooser.buttons] == ["Anna", "Bo"]
    await box.tap(mette, chooser, button_data(chooser, "Anna"))
    lengths = last(box, mette)
    await box.tap(mette, lengths, button_data(lengths, "Jeg ved det ikke endnu"))
    assert "Anna holder nu pause" in box.last_text_to(mette.id)
    assert "Din pause er nu registreret" in box.last_text_to(anna.id)
    await box.say(mette, "/resumevolunteer")
    chooser = last(box, mette)
    assert [b["text"] for b in chooser.buttons] == ["Anna"]
    await box.tap(mette, chooser, button_data(chooser, "Anna"))
    assert "Din pause er slut, som du og koordinatoren har aftalt" in box.last_text_to(anna.id)
    assert await paused_ids(box) == set()


async def test_a_volunteer_cannot_pause_someone_else(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    await box.say(anna, "/start")
    await box.say(bo, "/start")
    await box.say(bo, "/pausevolunteer @anna")
    assert "kun koordinatoren" in box.last_text_to(bo.id)
    assert await pause_rows(box) == []


async def test_while_paused_no_meeting_nudge_or_reminder_reaches_the_volunteer(
    group: tuple[Sandbox, Cast],
):
    pytest.importorskip("handlers.meeting", reason="the meeting feature nudges and reminds")
    box, cast = group
    anna, bo, dennis, mette = (
        cast.volunteers[0],
        cast.volunteers[1],
        cast.volunteers[3],
        cast.coordinator,
    )
    for user in (mette, anna, bo, dennis):
        await box.say(user, "/start")
    await ask_for_pause(box, anna, "1m")
    before = {u.id: len(box.texts_to(u.id)) for u in (anna, bo, dennis)}
    await box.say(mette, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    poll = next(m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.poll).poll
    await box.vote(bo, poll["id"], [0])
    # In steps within the reminders' grace, past the nudge, the closing and the meeting.
    moment = START
    while moment < local(date(2026, 12, 9), 18):
        moment += timedelta(hours=2)
        await box.advance_to(moment)
    to_dennis = box.texts_to(dennis.id)[before[dennis.id] :]
    assert any("lukker i morgen" in t for t in to_dennis), to_dennis  # unanswered: nudged
    assert any("påmindelse" in t for t in box.texts_to(bo.id)[before[bo.id] :])  # yes: reminded
    assert box.texts_to(anna.id)[before[anna.id] :] == []  # Anna, on a pause, gets neither


async def test_an_english_volunteer_gets_the_flow_in_english(group: tuple[Sandbox, Cast]):
    box, cast = group
    camilla, mette = cast.volunteers[2], cast.coordinator
    await box.say(mette, "/start")
    await box.say(camilla, "/start")
    await box.say(camilla, "/pause")
    assert "It is completely all right to take a pause" in box.last_text_to(camilla.id)
    await box.tap(camilla, last(box, camilla), "pause:len:open")
    await box.tap(camilla, last(box, camilla), "pause:note:none")
    await box.tap(camilla, last(box, camilla), "pause:ok")
    assert "Your pause has started" in box.last_text_to(camilla.id)
    assert "Camilla har bedt om en pause" in box.last_text_to(mette.id)  # Mette reads Danish


async def test_the_coordinator_hears_when_the_volunteer_could_not_be_told(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await box.say(mette, "/start")
    eva = box.fake.add_user(2005, "Eva", username="eva")
    box.fake.join(GROUP_CHAT_ID, eva)  # in the group, never opened a private chat
    await box.fake.wait_until_idle()
    await box.say(mette, "/pausevolunteer @eva")
    assert "Jeg kunne ikke skrive privat til Eva" in box.last_text_to(mette.id)
    await box.say(mette, "/resumevolunteer @eva")
    answer = box.last_text_to(mette.id)
    assert "Pausen for Eva er slut, og påmindelserne starter igen." in answer
    assert "Jeg kunne ikke skrive privat til Eva" in answer
    assert box.fake.messages_to(eva.id) == []
