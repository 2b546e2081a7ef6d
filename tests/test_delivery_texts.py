"""Telegram counts a message's length in UTF-16 code units: an emoji outside the basic
plane counts twice. A long text full of such emoji is still split into parts that fit."""

from __future__ import annotations

from bot.fake_telegram.formatting import utf16_len as telegram_len
from handlers.delivery import MAX_MESSAGE, split_text, utf16_len


def test_length_is_counted_as_telegram_counts_it():
    for text in ["", "kort", "æøå", "🌿", "hej 🌿 med 👋🏽 dig", "a\U0001f600b" * 100]:
        assert utf16_len(text) == telegram_len(text)


def test_lines_of_emoji_are_cut_so_each_part_fits_telegram():
    line = "Tak for i dag 🌿🌿🌿🌿🌿🌿🌿🌿🌿🌿 " + "🙂" * 40  # 51 characters, 101 units
    text = "\n".join(f"{n:03d} {line}" for n in range(100))
    assert len(text) < 2 * MAX_MESSAGE and utf16_len(text) > 2 * MAX_MESSAGE
    parts = split_text(text)
    assert all(utf16_len(part) <= MAX_MESSAGE for part in parts)
    assert "\n".join(parts) == text  # nothing lost, each cut at a line end
    assert len(parts) == 3  # counted in characters it would have been two, each too long


def test_one_endless_line_of_emoji_is_cut_between_characters():
    text = "😊" * 5000  # 10,000 units, no line end nor space
    parts = split_text(text)
    assert all(utf16_len(part) <= MAX_MESSAGE for part in parts)
    assert "".join(parts) == text
    assert split_text("🌿") == ["🌿"]
