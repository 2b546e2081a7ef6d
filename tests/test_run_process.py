"""`peerbot run` as a real process, long polling against the fake Bot API server."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from bot.fake_telegram import FakeTelegram
from bot.sandbox import populate
from tests.processes import bot_env, spawn


async def test_run_serves_the_group_and_stops_cleanly_on_sigterm(tmp_path: Path):
    async with FakeTelegram() as fake:
        cast = populate(fake)
        env = bot_env(fake, cast, f"sqlite:///{tmp_path / 'run.sqlite3'}")
        process = await spawn(env, tmp_path, "-m", "bot", "run")
        try:
            polling = await fake.wait_for(lambda c: c.method == "getUpdates", timeout=30)
            assert set(polling.params["allowed_updates"]) >= {"chat_member", "poll_answer"}
            anna = cast.volunteers[0]
            fake.send_text(anna, anna.id, "/start")
            reply = await fake.wait_for_message(anna.id, timeout=15)
            assert "Velkommen, Anna" in reply.text
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        assert process.returncode == 0, output.decode()
        log = output.decode()
        assert fake.token not in log and "Anna" not in log
