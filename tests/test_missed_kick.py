"""A member removed while the bot missed Telegram's chat_member update: their next command
finds out (getChatMember, cached for minutes), shows them nothing of the group, treats them
as having left (kept for the retention period, not deleted at once) and tells the
coordinator which matches need a volunteer."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from bot.sandbox import GROUP_CHAT_ID, sandbox
from handlers.common import MEMBERSHIP_FRESH


def person_row(database: Path, user_id: int) -> tuple[int, str | None] | None:
    with sqlite3.connect(database) as db:
        return db.execute(
            "SELECT is_member, left_at FROM people WHERE telegram_user_id = ?", (user_id,)
        ).fetchone()


@pytest.mark.parametrize("command", ["/meetings", "/referat", "/mydata"])
async def test_a_missed_kick_is_noticed_at_the_next_command(tmp_path: Path, command: str):
    database = tmp_path / "kick.sqlite3"
    async with sandbox(database) as (box, cast):
        mette, anna = cast.coordinator, cast.volunteers[0]
        await box.say(mette, "/start")
        await box.say(anna, "/start")
        await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
        await box.say(anna, "/meetings")
        assert "K.L." in box.last_text_to(anna.id)  # a member sees the match's meetings

        box.fake.set_member(GROUP_CHAT_ID, anna.id, "kicked")  # no chat_member update
        box.clock.advance(MEMBERSHIP_FRESH)  # Telegram's last word on her is now too old
        seen = len(box.fake.messages_to(anna.id))
        await box.say(anna, command)
        answers = box.texts_to(anna.id)[seen:]
        assert len(answers) == 1 and "K.L." not in answers[0]
        assert box.fake.calls_to("sendDocument") == []  # no data export either
        # Treated as having left: kept for the retention period, not deleted.
        is_member, left_at = person_row(database, anna.id)
        assert is_member == 0 and left_at is not None
        told = box.last_text_to(mette.id)
        assert "Anna er ikke længere i gruppen" in told and "K.L." in told

        # Her next /start gets the kind refusal; her row still waits out the retention.
        await box.say(anna, "/start")
        assert "lukket gruppe" in box.last_text_to(anna.id) or "closed group" in (
            box.last_text_to(anna.id)
        )
        assert person_row(database, anna.id) is not None


async def test_membership_is_asked_at_most_every_few_minutes(tmp_path: Path):
    async with sandbox(tmp_path / "cache.sqlite3") as (box, cast):
        anna = cast.volunteers[0]
        await box.say(anna, "/start")  # asks Telegram
        asked = len(box.fake.calls_to("getChatMember"))
        for _ in range(3):
            await box.say(anna, "/meetings")
            await box.say(anna, "/start")
        assert len(box.fake.calls_to("getChatMember")) == asked  # its answer holds a while
        box.clock.advance(MEMBERSHIP_FRESH)
        await box.say(anna, "/start")
        await box.say(anna, "/meetings")
        assert len(box.fake.calls_to("getChatMember")) == asked + 1


async def test_a_leave_forgets_telegrams_last_word(tmp_path: Path):
    """Who left (even seconds after Telegram said they were in) is asked about again."""
    async with sandbox(tmp_path / "left.sqlite3") as (box, cast):
        anna = cast.volunteers[0]
        await box.say(anna, "/start")
        box.fake.leave(GROUP_CHAT_ID, anna)
        await box.settle()
        await box.say(anna, "/start")
        assert "lukket gruppe" in box.last_text_to(anna.id)


async def test_a_missed_kick_leaves_her_matches_to_the_coordinator_and_her_row_to_retention(
    tmp_path: Path,
):
    """The coordinator hears which match nobody else can take (a shared one goes on), the
    overview lists it as needing cover, /cover gives it to another volunteer for good, and
    she is deleted only after the retention period (30 days), like anyone who leaves."""
    database = tmp_path / "kick_retention.sqlite3"
    async with sandbox(database) as (box, cast):
        mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
        for person in (mette, anna, bo):
            await box.say(person, "/start")
        await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
        await box.say(mette, '/match @anna @bo_frivillig "R.S." weekly thu 10:00')

        box.fake.set_member(GROUP_CHAT_ID, anna.id, "kicked")  # no chat_member update
        box.clock.advance(MEMBERSHIP_FRESH)
        await box.say(anna, "/meetings")
        told = box.last_text_to(mette.id)
        assert "Anna er ikke længere i gruppen" in told
        assert "brug for en frivillig (1): K.L." in told and "R.S." not in told

        await box.say(mette, "/matches")
        overview = box.last_text_to(mette.id)
        kl, rs = overview.split("• K.L.")[1].split("• R.S.")
        assert "Anna (har forladt gruppen)" in kl and "Ingen kan tage møderne" in kl
        assert "Ingen kan tage møderne" not in rs

        # /cover gives K.L. to Bo for good (nobody on it is on a pause to cover for).
        await box.say(mette, "/cover K.L. @bo_frivillig")
        assert box.last_text_to(mette.id) == "Bo har møderne med K.L. fra nu af."
        assert "Tak, fordi du overtager møderne med K.L." in box.last_text_to(bo.id)
        await box.say(mette, "/matches")
        kl = box.last_text_to(mette.id).split("• K.L.")[1].split("• R.S.")[0]
        assert "– Bo\n" in kl and "Anna" not in kl and "Ingen kan tage møderne" not in kl

        bo_heard = len(box.texts_to(bo.id))
        await box.advance(timedelta(days=29))
        assert any("K.L." in text for text in box.texts_to(bo.id)[bo_heard:])  # reminders
        assert person_row(database, anna.id) is not None
        await box.advance(timedelta(days=2))
        assert person_row(database, anna.id) is None
