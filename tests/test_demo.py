"""The README's first command: the demo plays its scenes and exits 0."""

from __future__ import annotations

import pytest

from bot.demo import run_demo


async def test_demo_prints_a_transcript_and_exits_0(capsys: pytest.CaptureFixture[str]):
    assert await run_demo() == 0
    transcript = capsys.readouterr().out
    assert "[Anna ↔ PeerBot] PeerBot: Velkommen, Anna!" in transcript
    assert "[Gruppen] PeerBot: Jeg hjælper de frivillige i en privat chat." in transcript
    assert "End of the demo." in transcript
