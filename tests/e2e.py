"""Shared steps of the end-to-end tests with the simulated group (bot/sandbox.py): moments
in Copenhagen, everyone saying /start, the reminders a person got, a button by its text."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from bot.sandbox import COPENHAGEN, Cast, Sandbox


def at(day: int, hour: int, minute: int = 0, month: int = 12, year: int = 2026) -> datetime:
    """A moment in Copenhagen (the sandbox starts on Monday 30 November 2026)."""
    return datetime(year, month, day, hour, minute, tzinfo=COPENHAGEN)


async def everyone_starts(box: Sandbox, cast: Cast) -> None:
    for user in (cast.coordinator, *cast.volunteers):
        await box.say(user, "/start")


def reminders_to(box: Sandbox, chat_id: int) -> list:
    """The meeting reminders sent to a chat, oldest first."""
    return [m for m in box.fake.messages_to(chat_id) if (m.text or "").startswith("Påmindelse")]


def button(message: Any, text: str) -> str:
    """The callback data of the button with exactly this text."""
    return next(b["callback_data"] for b in message.buttons if b["text"] == text)


async def guided_match_waiting_for_the_label(box: Sandbox, cast: Cast) -> None:
    """The coordinator starts `/match`, picks Anna and taps Next: the label is asked."""
    mette = cast.coordinator
    await box.say(mette, "/match")
    picker = box.fake.messages_to(mette.id)[-1]
    await box.tap(mette, picker, button(picker, "Anna"))
    await box.tap(mette, picker, "matches:gnext")
    assert "aldrig et fuldt navn" in box.last_text_to(mette.id)


def sqlite_files_bytes(box: Sandbox) -> bytes:
    """The SQLite database file and its write-ahead log as they are on disk now (what a
    forgotten name must be gone from, not only the tables)."""
    path = box.settings.database_url.split("///", 1)[1]
    content = b""
    for suffix in ("", "-wal"):
        with contextlib.suppress(FileNotFoundError), open(path + suffix, "rb") as handle:
            content += handle.read()
    return content
