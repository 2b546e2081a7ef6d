"""The README's first command: the demo plays its scenes and exits 0."""

from __future__ import annotations

import re

import pytest

from bot.demo import run_demo


async def test_demo_prints_a_transcript_and_exits_0(capsys: pytest.CaptureFixture[str]):
    assert await run_demo() == 0
    transcript = capsys.readouterr().out
    assert "[Anna ↔ PeerBot] PeerBot: Velkommen, Anna!" in transcript
    assert "[Gruppen] PeerBot: Jeg hjælper de frivillige i en privat chat." in transcript
    # Cover by suggestion: one tap asks Dennis, his yes reaches the coordinator.
    assert "[ Spørg Camilla ]  [ Spørg Dennis ]  [ Jeg finder selv en ]" in transcript
    assert "[Mette ↔ PeerBot] PeerBot: Dennis har sagt ja og tager møderne med K.L." in transcript
    assert "End of the demo." in transcript


# What the demo's Danish people read from the bot (Camilla's Telegram is in English, the
# stranger's too); the demo's own remarks in parentheses are for the reader, not the bot's.
DANISH_CHATS = ("[Mette ↔ PeerBot]", "[Anna ↔ PeerBot]", "[Bo ↔ PeerBot]", "[Dennis ↔ PeerBot]")
REMARK = re.compile(
    r"\((edits a message|closes the poll|deletes message \d+|a copy of the coordinator's "
    r"message|protected: can't be forwarded or saved)\)"
)
ENGLISH = re.compile(
    r"(?i)\b(the|you|your|please|with|weekly|biweekly|once|until|tue|wed|thu|sun)\b"
    r"|\b\d+h\b|\b\d{4}-\d{2}-\d{2}\b|\bkl\. \d{1,2}:\d{2}"
)


def danish_bot_texts(transcript: str) -> list[str]:
    found: list[list[str]] = []
    current: list[str] | None = None
    for line in transcript.splitlines():
        if any(line.startswith(f"{chat} PeerBot: ") for chat in (*DANISH_CHATS, "[Gruppen]")):
            current = [line.split(" PeerBot: ", 1)[1]]
            found.append(current)
        elif current is not None and line.startswith("      "):
            current.append(line.strip())
        else:
            current = None
    return [REMARK.sub("", "\n".join(text)) for text in found]


async def test_the_demo_shows_no_english_and_no_english_example_to_a_danish_user(
    capsys: pytest.CaptureFixture[str],
):
    assert await run_demo() == 0
    texts = danish_bot_texts(capsys.readouterr().out)
    assert len(texts) > 40
    assert [t for t in texts if ENGLISH.search(t)] == []
    # The check itself sees English where there is some.
    assert ENGLISH.search("Example: /match @anna weekly tue 10:00, reminders 2h")
