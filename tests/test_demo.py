"""The README's first command: the demo plays its scenes and exits 0."""

from __future__ import annotations

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
