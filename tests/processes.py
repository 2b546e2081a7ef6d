"""PeerBot as a real process (`python -m bot ...`) against the fake Bot API: its
environment, starting it, and reading its exit code and output."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from bot.fake_telegram import FakeTelegram
from bot.sandbox import GROUP_CHAT_ID, Cast

ROOT = Path(__file__).resolve().parents[1]
EXIT_DATABASE_UNUSABLE = 4


def bot_env(fake: FakeTelegram, cast: Cast, database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a bot process for the fake's group (plus `extra` settings)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_BASE_URL": fake.base_url,
        "DATABASE_URL": database_url,
        "GROUP_CHAT_ID": str(GROUP_CHAT_ID),
        "COORDINATOR_IDS": str(cast.coordinator.id),
        **extra,
    }


async def spawn(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    """`python <args>` with stdout and stderr in one pipe."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


class BotProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output = b""

    async def exit_code(self, timeout: float) -> int:  # noqa: ASYNC109
        out, _ = await asyncio.wait_for(self.process.communicate(), timeout)
        self.output += out
        assert self.process.returncode is not None
        return self.process.returncode

    @property
    def log(self) -> str:
        return self.output.decode(errors="replace")


@contextlib.asynccontextmanager
async def peerbot_run(
    fake: FakeTelegram, cast: Cast, database_url: str, folder: Path
) -> AsyncIterator[BotProcess]:
    """`python -m bot run` against the fake, polling once it yields; stopped with SIGTERM
    if still running at the end."""
    since = len(fake.calls)
    process = await spawn(bot_env(fake, cast, database_url), folder, "-m", "bot", "run")
    bot = BotProcess(process)
    try:
        await fake.wait_for(lambda c: c.method == "getUpdates", timeout=60, since=since)
        yield bot
    finally:
        if process.returncode is None:
            process.terminate()
            await bot.exit_code(30)
