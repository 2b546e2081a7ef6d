"""`peerbot run` as a real process when its PostgreSQL server fails under it: the
connections cut (a server restart, a failover, an administrator's pg_terminate_backend),
and the server gone for good. The first is recovered without anyone noticing; the second
stops the bot loudly with a failure exit code, Telegram keeps the update it could not
handle, and the bot a supervisor starts once the server is back handles it."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from bot.fake_telegram import FakeTelegram
from bot.sandbox import Cast, populate
from tests import processes
from tests.postgres import PostgresServer, create_database
from tests.processes import EXIT_DATABASE_UNUSABLE
from tests.test_never_deaf import started


@pytest.fixture
def own_server() -> Iterator[tuple[PostgresServer, str]]:
    """A PostgreSQL server of this test's own: the test stops it."""
    server = PostgresServer()
    try:
        url = server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        reason = getattr(error, "stderr", None) or str(error)
        warnings.warn(f"PostgreSQL tests are SKIPPED: {reason}", stacklevel=1)
        pytest.skip(f"PostgreSQL cannot run here: {reason}")
    try:
        yield server, url
    finally:
        server.stop()


def peerbot_run(
    fake: FakeTelegram, cast: Cast, database_url: str, folder: Path
) -> contextlib.AbstractAsyncContextManager[processes.BotProcess]:
    """`python -m bot run` on PostgreSQL (the bot's URL names no driver)."""
    return processes.peerbot_run(fake, cast, database_url.replace("+asyncpg", ""), folder)


async def first_names(database_url: str) -> set[str]:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        return {row[0] for row in await connection.fetch("SELECT first_name FROM people")}
    finally:
        await connection.close()


async def test_connections_cut_under_the_bot_are_recovered(
    own_server: tuple[PostgresServer, str], tmp_path: Path
):
    _, base_url = own_server
    database_url = await create_database(base_url, f"t_{uuid.uuid4().hex[:12]}")
    async with FakeTelegram() as fake:
        cast = populate(fake)
        anna, bo = cast.volunteers[:2]
        async with peerbot_run(fake, cast, database_url, tmp_path) as bot:
            assert "Velkommen, Anna" in await started(fake, anna)
            admin = await asyncpg.connect(base_url.replace("+asyncpg", "") + "/postgres")
            try:
                cut = await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = $1",
                    database_url.rsplit("/", 1)[1],
                )
            finally:
                await admin.close()
            assert cut >= 1  # the bot's pooled connections are gone
            # The next people are answered as if nothing happened ...
            assert "Velkommen, Bo" in await started(fake, bo)
            assert bot.process.returncode is None
            await fake.wait_for(lambda c: fake.pending_updates == [], timeout=15)
        assert "CRITICAL" not in bot.log
    # ... and what they did was stored.
    assert {"Anna", "Bo"} <= await first_names(database_url)


async def test_a_server_gone_stops_the_bot_loudly_and_the_restarted_bot_handles_what_was_kept(
    own_server: tuple[PostgresServer, str], tmp_path: Path
):
    server, base_url = own_server
    database_url = await create_database(base_url, f"t_{uuid.uuid4().hex[:12]}")
    async with FakeTelegram() as fake:
        cast = populate(fake)
        anna, bo = cast.volunteers[:2]
        async with peerbot_run(fake, cast, database_url, tmp_path) as bot:
            assert "Velkommen, Anna" in await started(fake, anna)
            # Anna's update confirmed (with the next getUpdates), so only Bo's can be kept.
            await fake.wait_for(lambda c: fake.pending_updates == [], timeout=30)
            await asyncio.to_thread(server.halt)
            fake.send_text(bo, bo.id, "/start")
            # Not alive and deaf: it stops with the code a supervisor restarts on.
            assert await bot.exit_code(120) == EXIT_DATABASE_UNUSABLE, bot.log
        assert "CRITICAL" in bot.log and "cannot use its database" in bot.log
        # Bo's /start was never confirmed: Telegram still has it ...
        assert [u["message"]["from"]["id"] for u in fake.pending_updates] == [bo.id]
        # ... so once the server is back, the bot a supervisor starts again handles it.
        await asyncio.to_thread(server.resume)
        async with peerbot_run(fake, cast, database_url, tmp_path):
            await fake.wait_for(lambda c: fake.pending_updates == [], timeout=60)
            assert "Velkommen, Bo" in fake.messages_to(bo.id)[-1].text
    assert {"Anna", "Bo"} <= await first_names(database_url)
