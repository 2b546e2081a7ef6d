"""End to end: the monthly meeting's date poll, the decision, reminders, other polls;
the real Application against the fake Bot API, time driven by the FakeClock."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from telegram import Update

import bot.app as app_module
from bot.domain import people
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Pause, Person
from storage.models.meeting import Meeting, MeetingAnswer

Group = tuple[Sandbox, Cast]


@pytest.fixture(autouse=True)
def roomy_flood_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the meeting, not Telegram's flood limits (bot/ratelimit.py has
    its own tests): a coordinator who gets ten answers in a row needn't wait ten seconds."""
    monkeypatch.setattr(app_module, "PeerRateLimiter", RoomyLimiter)


class RoomyLimiter(app_module.PeerRateLimiter):
    """Telegram's limits far above what a meeting's answers need (a class, not a partial:
    the app asks whether its limiter is a PeerRateLimiter)."""

    def __init__(self) -> None:
        super().__init__(
            private_burst=1000, private_per_second=1000, group_burst=1000, group_per_minute=60000
        )


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=COPENHAGEN)


def polls(box: Sandbox) -> list:
    return [m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.poll]


def documents(box: Sandbox) -> list:
    return [m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.document]


def ics_of(box: Sandbox, message) -> str:
    return box.fake.files[message.document["file_id"]].content.decode()


async def start_all(box: Sandbox, cast: Cast) -> None:
    """Everyone has opened a private chat with the bot, as `/start` does (the foundation's
    tests cover `/start` itself; doing it directly keeps these tests fast)."""
    now = box.clock.now()
    async with box.services.db.transaction() as session:
        for user in [cast.coordinator, *cast.volunteers]:
            user.started = True
            who = people.TelegramPerson(user.id, user.first_name, user.username, "da")
            if user.language_code == "en":
                who = people.TelegramPerson(user.id, user.first_name, user.username, "en")
            await people.record_member(session, box.services.group_id, who, now, started_bot=True)


async def pause(box: Sandbox, user_id: int) -> None:
    """Put a volunteer on a pause (as the pause feature would)."""
    async with box.services.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == user_id))
        assert person is not None
        session.add(
            Pause(
                group_id=person.group_id,
                person_id=person.id,
                started_at=box.clock.now(),
                wants_cover=False,
            )
        )


async def answers_by_name(box: Sandbox) -> dict[str, list[int]]:
    async with box.services.db.transaction() as session:
        rows = await session.execute(
            select(Person.first_name, MeetingAnswer.position)
            .join(Person, Person.id == MeetingAnswer.person_id)
            .order_by(MeetingAnswer.position)
        )
        found: dict[str, list[int]] = {}
        for name, position in rows:
            found.setdefault(name, []).append(position)
        return found


async def test_the_monthly_poll_from_opening_to_reminders(group: Group):
    box, cast = group
    mette = cast.coordinator
    anna, bo, camilla, dennis = cast.volunteers
    await start_all(box, cast)
    await pause(box, dennis.id)
    eva = box.fake.add_user(2005, "Eva")  # joins, never opens a private chat
    box.fake.join(GROUP_CHAT_ID, eva)
    frida = box.fake.add_user(2006, "Frida")  # in the group, unknown to the bot until she votes
    box.fake.set_member(GROUP_CHAT_ID, frida.id, "member")
    await box.fake.wait_until_idle()

    # The January poll opens on 15 December at 10:00, not a minute before, and only once.
    await box.advance_to(at(2026, 12, 15, 9, 59))
    assert polls(box) == []
    await box.advance_to(at(2026, 12, 15, 10, 0))
    await box.advance_to(at(2026, 12, 15, 10, 5))
    [poll_message] = polls(box)
    poll = poll_message.poll
    assert "januar" in poll["question"]
    assert poll["is_anonymous"] is False and poll["allows_multiple_answers"] is True
    assert [o["text"] for o in poll["options"]] == [
        "tirsdag 5. januar 2027 kl. 17.00",
        "onsdag 13. januar 2027 kl. 17.00",
        "onsdag 20. januar 2027 kl. 17.00",
        "torsdag 28. januar 2027 kl. 16.30",
        "Ingen af dagene passer mig denne gang",
    ]

    # Votes: a changed vote, a retraction, a paused volunteer, someone new, a stranger.
    await box.vote(anna, poll["id"], [0, 1])
    await box.vote(bo, poll["id"], [0])
    await box.vote(bo, poll["id"], [1, 2])
    await box.vote(camilla, poll["id"], [1])
    await box.vote(camilla, poll["id"], [])
    await box.vote(dennis, poll["id"], [0])  # on a pause: not counted
    await box.vote(frida, poll["id"], [4])  # "none of the days"
    box.fake.set_member(GROUP_CHAT_ID, cast.stranger.id, "member")
    box.fake.answer_poll(cast.stranger, poll["id"], [0])
    box.fake.set_member(GROUP_CHAT_ID, cast.stranger.id, "left")  # gone when the bot checks
    await box.fake.wait_until_idle()
    assert await answers_by_name(box) == {"Anna": [0, 1], "Bo": [1, 2], "Frida": [4]}

    # A day before closing: one gentle nudge to those who haven't answered and can be reached.
    sent_before = {p.id: len(box.texts_to(p.id)) for p in [anna, bo, camilla, dennis, mette]}
    await box.advance_to(at(2026, 12, 19, 10, 0))
    await box.advance_to(at(2026, 12, 19, 12, 0))
    new = {p.id: box.texts_to(p.id)[sent_before[p.id] :] for p in [anna, bo, camilla, dennis]}
    assert new[anna.id] == [] and new[bo.id] == [] and new[dennis.id] == []
    [nudge] = new[camilla.id]
    assert "closes tomorrow" in nudge  # Camilla's Telegram is in English
    link = box.fake.messages_to(camilla.id)[-1].buttons[0]["url"]
    assert link == f"https://t.me/c/200300/{poll_message.message_id}"
    [to_mette] = box.texts_to(mette.id)[sent_before[mette.id] :]
    assert "Eva" in to_mette and "Camilla" not in to_mette and "Dennis" not in to_mette

    # Closing: the poll stops, one decision with the .ics, the whole picture to Mette.
    await box.advance_to(at(2026, 12, 20, 10, 0))
    await box.advance_to(at(2026, 12, 20, 11, 0))
    assert [c.params["message_id"] for c in box.fake.calls_to("stopPoll")] == [
        poll_message.message_id
    ]
    [decision] = documents(box)
    caption = decision.text
    assert "onsdag 13. januar 2027 kl. 17.00" in caption
    assert "Indtil videre kan 2 komme." in caption
    assert "Anna" not in caption and "Bo" not in caption  # a count, not names
    assert decision.document["file_name"] == "frivilligmoede.ics"
    ics = ics_of(box, decision)
    assert "DTSTART:20270113T160000Z" in ics and "SUMMARY:Frivilligmøde" in ics
    picture = box.last_text_to(mette.id)
    assert "Kan komme (2): Anna, Bo" in picture
    assert "Kan ikke komme (1): Frida" in picture
    assert "Har ikke svaret (2): Camilla, Eva" in picture
    assert "Dennis" not in picture

    # Reminders: the day before at 10:00 and two hours before, to yes and unanswered only.
    counts = {p.id: len(box.texts_to(p.id)) for p in [anna, bo, camilla, dennis]}
    await box.advance_to(at(2027, 1, 12, 10, 0))
    await box.advance_to(at(2027, 1, 13, 15, 0))
    await box.advance_to(at(2027, 1, 13, 15, 30))
    for person in [anna, bo, camilla]:
        reminders = box.texts_to(person.id)[counts[person.id] :]
        assert len(reminders) == 2, person.first_name
    assert "påmindelse" in box.last_text_to(anna.id)
    assert "onsdag 13. januar kl. 17.00" in box.last_text_to(anna.id)  # 2027 by now
    assert box.texts_to(dennis.id)[counts[dennis.id] :] == []  # paused
    assert box.fake.messages_to(frida.id) == []  # said she can't (and never started the bot)
    assert len(documents(box)) == 1 and len(polls(box)) == 1


async def test_a_restart_between_opening_and_closing_loses_and_repeats_nothing(group: Group):
    box, cast = group
    anna, bo = cast.volunteers[:2]
    await start_all(box, cast)
    await box.say(cast.coordinator, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    [poll_message] = polls(box)
    await box.vote(anna, poll_message.poll["id"], [1])
    await box.restart_bot()
    await box.vote(bo, poll_message.poll["id"], [1])  # the poll is still known after a restart
    assert await answers_by_name(box) == {"Anna": [1], "Bo": [1]}

    # The nudge goes out once, also when the bot restarts right after it.
    camilla = cast.volunteers[2]
    await box.advance_to(at(2026, 12, 4, 9, 0))
    await box.restart_bot()
    await box.advance_to(at(2026, 12, 4, 9, 30))
    assert sum("closes tomorrow" in t for t in box.texts_to(camilla.id)) == 1

    # The bot is down when the poll should close; it closes once it starts again.
    await box.stop_bot()
    box.clock.set(at(2026, 12, 6, 12, 0))
    await box.start_bot()
    await box.fake.wait_for(lambda c: c.method == "sendDocument", timeout=5)
    await box.fake.wait_until_idle()
    await box.run_due()
    await box.restart_bot()
    await box.advance_to(at(2026, 12, 6, 13, 0))
    assert len(polls(box)) == 1
    assert len(box.fake.calls_to("stopPoll")) == 1
    [decision] = documents(box)
    assert "onsdag 10. december kl. 16.30" not in decision.text  # 10 December is a Thursday
    assert "torsdag 10. december kl. 16.30" in decision.text
    assert sum("closes tomorrow" in t for t in box.texts_to(camilla.id)) == 1


async def test_a_tie_goes_to_the_earlier_date_and_the_coordinator_can_close_early(group: Group):
    box, cast = group
    anna, bo = cast.volunteers[:2]
    await start_all(box, cast)
    await box.say(cast.coordinator, "/meetingpoll 2026-12-10 16:30, 2026-12-09 17:00")
    assert "Afstemningen er lagt i gruppen" in box.last_text_to(cast.coordinator.id)
    [poll_message] = polls(box)
    options = [o["text"] for o in poll_message.poll["options"]]
    assert options[:2] == ["onsdag 9. december kl. 17.00", "torsdag 10. december kl. 16.30"]
    await box.vote(anna, poll_message.poll["id"], [1])
    await box.vote(bo, poll_message.poll["id"], [0])
    await box.say(cast.coordinator, "/closepoll")
    [decision] = documents(box)
    assert "onsdag 9. december kl. 17.00" in decision.text
    assert "Indtil videre kan 1 komme." in decision.text
    # Reminders go to those who said yes or didn't answer, not to Anna who can't that day.
    await box.advance_to(at(2026, 12, 8, 10, 0))
    assert "påmindelse" in box.last_text_to(bo.id)
    assert "påmindelse" in box.last_text_to(cast.volunteers[3].id)
    assert "påmindelse" not in box.last_text_to(anna.id)


async def test_no_date_works_then_the_coordinator_chooses_and_moves_it(group: Group):
    box, cast = group
    mette = cast.coordinator
    anna, bo = cast.volunteers[:2]
    await start_all(box, cast)
    await box.say(mette, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    [poll_message] = polls(box)
    await box.vote(anna, poll_message.poll["id"], [2])
    await box.say(mette, "/closepoll")
    assert documents(box) == []
    assert "Ingen dato fik et ja denne gang" in box.last_text_to(GROUP_CHAT_ID)
    question = [m for m in box.fake.messages_to(mette.id) if "/setmeeting" in (m.text or "")][-1]
    assert "/setmeeting" in question.text
    choices = [b["callback_data"] for b in question.buttons]
    assert len(choices) == 2
    await box.tap(mette, question, choices[1])
    [decision] = documents(box)
    assert "torsdag 10. december kl. 16.30" in decision.text

    # Moving it: the group is told; nobody had said yes, so no private notes.
    await box.say(mette, "/setmeeting 2026-12-16 17:00")
    moved = documents(box)[-1]
    assert "flyttet til onsdag 16. december kl. 17.00" in moved.text
    assert "SEQUENCE:1" in ics_of(box, moved)
    assert "onsdag 16. december" in box.last_text_to(mette.id)
    assert not any("flyttet" in t for t in box.texts_to(bo.id))  # he never said yes


async def test_moving_tells_those_who_said_yes(group: Group):
    box, cast = group
    mette = cast.coordinator
    anna, bo = cast.volunteers[:2]
    await start_all(box, cast)
    await box.say(mette, "/meetingpoll 2026-12-09 17:00, 2026-12-10 16:30")
    [poll_message] = polls(box)
    await box.vote(anna, poll_message.poll["id"], [0])
    await box.say(mette, "/closepoll")
    await box.say(mette, "/setmeeting 2026-12-17 16:30")
    assert "flyttet til torsdag 17. december kl. 16.30" in box.last_text_to(anna.id)
    assert not any("flyttet" in t for t in box.texts_to(bo.id))
    assert len(documents(box)) == 2
    # Reminders follow the new date, not the old one.
    before = len(box.texts_to(anna.id))
    await box.advance_to(at(2026, 12, 8, 10, 0))
    assert len(box.texts_to(anna.id)) == before
    await box.advance_to(at(2026, 12, 16, 10, 0))
    assert "torsdag 17. december" in box.last_text_to(anna.id)


async def test_commands_are_for_the_coordinator_and_bad_dates_get_a_kind_answer(group: Group):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await start_all(box, cast)
    await box.say(anna, "/meetingpoll")
    assert "kun koordinatoren" in box.last_text_to(anna.id)
    await box.say(mette, "/meetingpoll 9/12 kl 17")
    # The examples are Danish and dated from today (the app's clock), never a fixed date.
    day = r"\d{1,2}\.\d{1,2}\.20\d\d"
    example = rf"/meetingpoll {day} 17\.00, {day} 16\.30"
    assert re.search(example, box.last_text_to(mette.id))
    await box.say(mette, "/setmeeting i morgen")
    assert re.search(rf"/setmeeting {day} 17\.00", box.last_text_to(mette.id))
    # Far ahead or impossible: refused with the allowed range, and nothing is written (a
    # half-made meeting would later be announced as "moved").
    for typed in ("9999-12-31 23:30", "2062-12-09 17:00", "0001-01-01 00:00"):
        await box.say(mette, f"/setmeeting {typed}")
        answer = box.last_text_to(mette.id)
        assert "til og med torsdag 30. november 2028" in answer or re.search(
            rf"/setmeeting {day} 17\.00", answer
        ), typed
    async with box.services.db.transaction() as session:
        assert list(await session.scalars(select(Meeting))) == []
    await box.say(mette, "/closepoll")
    assert "ingen åben afstemning" in box.last_text_to(mette.id)
    await box.say(mette, "/meetingpoll", in_group=True)
    assert polls(box) == []
    # Without dates: the next month's candidates from the settings.
    await box.say(mette, "/meetingpoll")
    [poll_message] = polls(box)
    assert "december" in poll_message.poll["question"]
    assert len(poll_message.poll["options"]) == 5
    await box.say(mette, "/meetingpoll")
    assert "allerede en åben" in box.last_text_to(mette.id)


async def test_a_vote_delivered_again_changes_nothing(group: Group):
    """Votes keep no record of being handled (a statement less on the busiest update): a vote
    Telegram delivers a second time stores the same answer again, and registers a newcomer
    who voted once."""
    box, cast = group
    anna = cast.volunteers[0]
    await start_all(box, cast)
    frida = box.fake.add_user(2006, "Frida")  # in the group, unknown to the bot until she votes
    box.fake.set_member(GROUP_CHAT_ID, frida.id, "member")
    await box.advance_to(at(2026, 12, 15, 10, 5))
    [poll_message] = polls(box)
    poll_id = poll_message.poll["id"]
    sent_before = len(box.fake.calls_to("sendMessage"))
    for voter, options in ((anna, [0, 1]), (frida, [2])):
        await box.vote(voter, poll_id, options)
        again = Update.de_json(box.fake.updates[-1], box.app.bot)
        await box.app.process_update(again)
        await box.settle()
    assert await answers_by_name(box) == {"Anna": [0, 1], "Frida": [2]}
    async with box.services.db.transaction() as session:
        fridas = await session.scalars(select(Person).where(Person.telegram_user_id == frida.id))
        assert len(list(fridas)) == 1
    assert len(box.fake.calls_to("sendMessage")) == sent_before, "a vote is never answered"


async def test_the_coordinators_own_poll_and_its_result(group: Group):
    box, cast = group
    mette, anna, bo = cast.coordinator, *cast.volunteers[:2]
    await start_all(box, cast)
    await box.say(mette, "/poll anonym Hvilket kursus ønsker I? | Førstehjælp | Konflikthåndtering")
    [poll_message] = polls(box)
    assert poll_message.poll["is_anonymous"] is True
    await box.vote(anna, poll_message.poll["id"], [0])
    await box.vote(bo, poll_message.poll["id"], [0, 1])
    await box.say(mette, "/closepoll")
    result = [t for t in box.texts_to(mette.id) if "Hvilket kursus" in t][-1]
    assert "Førstehjælp: 2" in result and "Konflikthåndtering: 1" in result
    # A second one closes by itself after the poll days.
    await box.say(mette, "/poll Pizza eller sandwich? | Pizza | Sandwich")
    assert polls(box)[-1].poll["is_anonymous"] is False
    await box.advance_to(at(2026, 12, 5, 9, 1))
    assert "Pizza eller sandwich" in box.last_text_to(mette.id)
    await box.say(mette, "/poll Kun et spørgsmål")
    assert "Skriv afstemningen sådan her" in box.last_text_to(mette.id)


async def test_meeting_settings_are_shown_and_changed(group: Group):
    box, cast = group
    mette = cast.coordinator
    await start_all(box, cast)
    await box.say(mette, "/settings")
    menu = box.fake.messages_to(mette.id)[-1]
    await box.tap(mette, menu, "meeting:settings")
    shown = box.last_text_to(mette.id)
    assert "tirsdag kl. 17.00, onsdag kl. 17.00, torsdag kl. 16.30" in shown
    assert "dagen før kl. 10.00" in shown and "2 timer før" in shown
    # The word to type is quoted after the label, never a second pair of parentheses.
    assert "• Mødested »sted«: –" in shown and ") (" not in shown
    await box.say(mette, "/meetingsettings sted Frivilligcentret, Stationsvej 3")
    assert "Frivilligcentret, Stationsvej 3" in box.last_text_to(mette.id)
    await box.say(mette, "/meetingsettings antal 99")
    assert "/meetingsettings antal 4" in box.last_text_to(mette.id)
    # Or tap a setting and send the new value; a wrong one may be tried again.
    settings_view = next(
        m for m in reversed(box.fake.messages_to(mette.id)) if "Indstillinger for" in m.text
    )
    await box.tap(mette, settings_view, "meeting:edit:slots")
    assert "Send mig den nye værdi for »Mulige dage og tidspunkter«" in box.last_text_to(mette.id)
    await box.say(mette, "hver onsdag")
    assert "tir 17.00, ons 17.00, tor 16.30" in box.last_text_to(mette.id)  # the example
    await box.say(mette, "ons 18:00")
    saved = "Gemt: »Mulige dage og tidspunkter« er nu onsdag kl. 18.00."
    assert box.last_text_to(mette.id) == saved
    await box.say(mette, "/meetingsettings antal 2")
    await box.say(mette, "/meetingpoll")
    [poll_message] = polls(box)
    assert [o["text"] for o in poll_message.poll["options"]] == [
        "onsdag 9. december kl. 18.00",
        "onsdag 30. december kl. 18.00",
        "Ingen af dagene passer mig denne gang",
    ]
    await box.say(cast.volunteers[0], "/meetingsettings antal 3")
    assert "kun koordinatoren" in box.last_text_to(cast.volunteers[0].id)
    async with box.services.db.transaction() as session:
        [meeting] = list(await session.scalars(select(Meeting)))
    assert meeting.place == "Frivilligcentret, Stationsvej 3"


async def test_a_failed_poll_is_tried_again_but_a_doubtful_one_is_never_posted_twice(group: Group):
    box, cast = group
    await start_all(box, cast)
    # Refused outright: nothing was posted, so the next pass tries again.
    box.fake.fail_next("sendPoll", error_code=400, description="Bad Request: not enough rights")
    await box.advance_to(at(2026, 12, 15, 10, 0))
    assert polls(box) == []
    await box.advance_to(at(2026, 12, 15, 10, 1))
    assert len(polls(box)) == 1
    # A server error may or may not have posted it: no second try; the coordinator looks.
    await box.say(cast.coordinator, "/closepoll")
    box.fake.fail_next("sendPoll", error_code=500)
    await box.say(cast.coordinator, "/meetingpoll 2027-02-09 17:00, 2027-02-10 16:30")
    assert "ikke sikker på, at afstemningen" in " ".join(box.texts_to(cast.coordinator.id))
    await box.advance(timedelta(minutes=5))
    assert len(polls(box)) == 1
