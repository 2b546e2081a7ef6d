"""A member removed while the bot missed Telegram's chat_member update: their next command
finds out (getChatMember, cached for minutes), shows them nothing of the group, treats them
as having left (kept for the retention period, not deleted at once) and tells the
coordinator which matches need a volunteer."""

from __future__ import annotations

import sqlite3
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
