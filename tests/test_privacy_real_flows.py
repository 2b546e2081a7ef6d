"""/mydata and /forgetme over rows the real features made (no hand-built rows): matches
and their reminders, a pause, a vote in the meeting poll."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from bot.domain import rights
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Match, MatchVolunteer, Person


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=COPENHAGEN)


def button(message, starts: str) -> str:
    return next(b["callback_data"] for b in message.buttons if b["text"].startswith(starts))


async def test_mydata_and_forgetme_over_what_the_features_stored(group: tuple[Sandbox, Cast]):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    for user in (mette, anna, bo):
        await box.say(user, "/start")
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00')
    await box.say(mette, '/match @anna "P.J." weekly wed 10:00')

    # A reminder the day before, acknowledged.
    await box.advance_to(at(30, 18, 0, month=11))
    reminder = next(
        m for m in box.fake.messages_to(anna.id) if "K.L." in (m.text or "") and m.buttons
    )
    await box.tap(anna, reminder, button(reminder, "Jeg kommer"))

    # The January poll opens on 15 December; Anna votes.
    await box.advance_to(at(15, 10, 5))
    poll = next(m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.poll).poll
    await box.vote(anna, poll["id"], [0, 1])

    # A two-week pause, through the private flow.
    await box.say(anna, "/pause")
    await box.tap(anna, box.fake.last_message_to(anna.id), "pause:len:2w")
    message = box.fake.last_message_to(anna.id)
    if any(b.get("callback_data", "").startswith("pause:cover:") for b in message.buttons):
        await box.tap(anna, message, "pause:cover:yes")
        message = box.fake.last_message_to(anna.id)
    await box.tap(anna, message, "pause:note:none")
    await box.tap(anna, box.fake.last_message_to(anna.id), "pause:ok")

    await box.say(anna, "/mydata")
    document = box.fake.messages_to(anna.id)[-1].document
    assert document is not None
    export = json.loads(box.fake.files[document["file_id"]].content)
    tables = {name for name, rows in export["tables"].items() if rows}
    assert {"match_volunteers", "reminder_deliveries", "meeting_answers", "pauses"} <= tables
    async with box.services.db.transaction() as session:
        anna_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == anna.id))
        counts = await rights.count_references(session, anna_id)
    # Every row that points at her is in the copy, table by table.
    for ref_name, count in counts.items():
        table = ref_name.split(".")[0]
        if table != "people" and count:
            assert len(export["tables"][table]) >= count, ref_name

    await box.say(anna, "/forgetme")
    question = box.fake.messages_to(anna.id)[-1]
    await box.tap(
        anna,
        question,
        next(b["callback_data"] for b in question.buttons if "forget" in b["callback_data"]),
    )
    async with box.services.db.transaction() as session:
        assert set((await rights.count_references(session, anna_id)).values()) == {0}
        running = {
            m.label: [
                v
                for v in await session.scalars(
                    select(MatchVolunteer.person_id).where(
                        MatchVolunteer.match_id == m.id, MatchVolunteer.ended_at.is_(None)
                    )
                )
            ]
            for m in await session.scalars(select(Match).where(Match.ended_at.is_(None)))
        }
    assert set(running) == {"K.L.", "P.J."} and running["P.J."] == []
    told = box.last_text_to(mette.id)
    assert "En frivillig har bedt om at blive glemt" in told and "P.J." in told
    assert "Anna" not in told and "K.L." not in told

    # K.L. goes on with Bo: his reminders still come, and Anna gets none any more.
    anna_before = len(box.texts_to(anna.id))
    bo_before = len([t for t in box.texts_to(bo.id) if "K.L." in t])
    await box.advance_to(at(21, 18, 0))
    assert len([t for t in box.texts_to(bo.id) if "K.L." in t]) > bo_before
    assert len(box.texts_to(anna.id)) == anna_before
