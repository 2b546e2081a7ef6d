"""Texts longer than Telegram's 4,096 characters arrive in full, end to end: a pause notice
with a long name, five weekly activities and a long note, `/volunteers` for 150 people,
and the minutes' recipient list of 150."""

from __future__ import annotations

from datetime import time

from bot.domain import matches as match_rules
from bot.domain import people
from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from tests.test_minutes_e2e import button, hold_meeting

FIRST_ID = 7_000_000
LIMIT = 4096


def long_name(number: int) -> str:
    return f"Frivillig-Med-Et-Meget-Langt-Navn-{number:03d}"


async def add_members(box: Sandbox, count: int, *, started: bool = False) -> list[str]:
    """`count` members with long names, in the group; none has started the bot."""
    names = []
    async with box.services.db.transaction() as session:
        for number in range(count):
            user_id = FIRST_ID + number
            user = box.fake.add_user(user_id, long_name(number))
            user.started = started
            box.fake.set_member(GROUP_CHAT_ID, user_id, "member")
            who = people.TelegramPerson(user_id, long_name(number), None, "da")
            await people.record_member(
                session, box.services.group_id, who, box.clock.now(), started_bot=started
            )
            names.append(long_name(number))
    return names


def every_message_fits(box: Sandbox, chat_id: int) -> None:
    assert all(len(m.text or "") <= LIMIT for m in box.fake.messages_to(chat_id))


async def test_a_pause_notice_over_the_limit_reaches_the_coordinator_whole(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    await box.say(mette, "/start")
    await box.say(anna, "/start")
    async with box.services.db.transaction() as session:
        anna_row = await people.find_person(session, box.services.group_id, anna.id)
        assert anna_row is not None
        anna_row.first_name = "Anna-" + "Marie" * 11  # as long as a kept first name gets
        for weekday in range(5):
            await match_rules.create_match(
                session,
                box.services.group_id,
                kind="activity",
                label=f"Aktivitet nummer {weekday + 1} med et langt navn",
                volunteer_ids=[anna_row.id],
                plan=match_rules.Plan(rhythm="weekly", weekday=weekday, at=time(16, 0)),
                place=None,
                now=box.clock.now(),
                tz=box.services.tz,
            )
    # As long as a note may be (3,000 characters), each line ending in its own number.
    words = "jeg har brug for ro. " * 6
    note = "\n".join(f"Linje {n:02d}: {words}{n:02d}" for n in range(22))
    note = note[:3000].strip()
    last_line = note.rsplit("\n", 1)[-1]
    before = len(box.texts_to(mette.id))
    await box.say(anna, "/pause")
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:len:1m")
    await box.say(anna, note)  # activities only: no question about a temporary volunteer
    await box.tap(anna, box.fake.messages_to(anna.id)[-1], "pause:ok")
    notice = "\n".join(box.texts_to(mette.id)[before:])
    assert len(notice) > LIMIT
    assert "har bedt om en pause" in notice
    assert all(line in notice for line in note.splitlines())
    assert notice.count(last_line) == 1
    assert "Aktivitet nummer 5 med et langt navn" in notice
    every_message_fits(box, mette.id)
    assert "Jeg har givet koordinatoren besked." in box.last_text_to(anna.id)


async def test_volunteers_lists_all_150_people(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette = cast.coordinator
    await box.say(mette, "/start")
    names = await add_members(box, 150)
    before = len(box.texts_to(mette.id))
    await box.say(mette, "/volunteers")
    answer = "\n".join(box.texts_to(mette.id)[before:])
    assert len(answer) > LIMIT
    assert all(f"• {name} (har ikke startet" in answer for name in names)
    every_message_fits(box, mette.id)


async def test_the_minutes_recipient_list_of_150_arrives_whole(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette = cast.coordinator
    names = await add_members(box, 150)
    await hold_meeting(box, cast)
    await box.say(mette, "/minutes")
    before = len(box.texts_to(mette.id))
    await box.say(mette, "Referat: vi talte om julefrokosten.")
    preview = "\n".join(box.texts_to(mette.id)[before:])
    assert all(name in preview for name in names)
    question = box.fake.last_message_to(mette.id)
    box.fake.tap_button(mette, question, button(question, "Send"))
    await box.settle(timeout=60)  # 150 copies tried, each refused: nobody started the bot
    report = "\n".join(box.texts_to(mette.id)[before:])
    assert report.count(long_name(149)) >= 2  # in the question and in the report
    every_message_fits(box, mette.id)
