"""`peerbot run` as a real process when its SQLite database fails under it: locked by another
process, made unwritable, deleted. It waits and tries again, or stops loudly with a failure
exit code (for systemd's Restart=on-failure) without confirming what it could not handle;
it never stays alive and deaf."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sqlite3
from pathlib import Path

import pytest

from bot.fake_telegram import FakeTelegram
from bot.sandbox import Cast, populate, sandbox
from tests import processes
from tests.processes import EXIT_DATABASE_UNUSABLE, bot_env, spawn


def peerbot_run(
    fake: FakeTelegram, cast: Cast, database: Path
) -> contextlib.AbstractAsyncContextManager[processes.BotProcess]:
    """`python -m bot run` on an SQLite file, its folder the working directory."""
    return processes.peerbot_run(fake, cast, f"sqlite:///{database}", database.parent)


async def started(fake: FakeTelegram, person, timeout: float = 30) -> str:  # noqa: ASYNC109
    """`/start` from a person; their welcome."""
    before = len(fake.messages_to(person.id))
    fake.send_text(person, person.id, "/start")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while len(fake.messages_to(person.id)) == before:
        assert loop.time() < deadline, "no answer to /start"
        await asyncio.sleep(0.05)
    return fake.messages_to(person.id)[before].text


async def test_a_database_locked_for_15_seconds_is_waited_out(tmp_path: Path):
    database = tmp_path / "locked.sqlite3"
    async with FakeTelegram() as fake:
        cast = populate(fake)
        anna, bo = cast.volunteers[:2]
        async with peerbot_run(fake, cast, database) as bot:
            assert "Velkommen, Anna" in await started(fake, anna)
            before = len(fake.messages_to(anna.id))
            blocker = sqlite3.connect(database)
            blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            try:
                # A read-only update: its only write is the record that it was handled.
                fake.send_text(anna, anna.id, "hej")
                await asyncio.sleep(15)
            finally:
                blocker.rollback()
                blocker.close()
            await fake.wait_for(lambda c: len(fake.messages_to(anna.id)) > before, timeout=30)
            # Still listening afterwards, for everyone.
            assert "Velkommen, Bo" in await started(fake, bo)
            assert bot.process.returncode is None
            # Everything was handled and confirmed (with the next getUpdates).
            await fake.wait_for(lambda c: fake.pending_updates == [], timeout=15)
        assert "trying again" in bot.log


async def test_an_unwritable_database_stops_the_bot_loudly_and_telegram_keeps_the_update(
    tmp_path: Path,
):
    database = tmp_path / "unwritable.sqlite3"
    async with FakeTelegram() as fake:
        cast = populate(fake)
        anna, bo = cast.volunteers[:2]
        async with peerbot_run(fake, cast, database) as bot:
            assert "Velkommen, Anna" in await started(fake, anna)
            # Anna's update confirmed (with the next getUpdates), so only Bo's can be kept.
            await fake.wait_for(lambda c: fake.pending_updates == [], timeout=30)
            # The disk refuses every write from now on (as a full or read-only disk does).
            _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.prlimit(bot.process.pid, resource.RLIMIT_FSIZE, (1, hard))
            fake.send_text(bo, bo.id, "/start")
            assert await bot.exit_code(90) == EXIT_DATABASE_UNUSABLE, bot.log
        assert "CRITICAL" in bot.log and "cannot use its database" in bot.log
        # Bo's /start was never confirmed: Telegram still has it ...
        assert [u["message"]["from"]["id"] for u in fake.pending_updates] == [bo.id]
        # ... so the bot a supervisor starts again handles it (no lease stands in its way).
        async with peerbot_run(fake, cast, database):
            await fake.wait_for(lambda c: fake.pending_updates == [], timeout=30)
        with sqlite3.connect(database) as check:
            names = {r[0] for r in check.execute("SELECT first_name FROM people")}
        assert "Bo" in names


async def test_a_deleted_database_stops_the_bot_instead_of_losing_everything(tmp_path: Path):
    database = tmp_path / "deleted.sqlite3"
    async with FakeTelegram() as fake:
        cast = populate(fake)
        anna = cast.volunteers[0]
        async with peerbot_run(fake, cast, database) as bot:
            assert "Velkommen, Anna" in await started(fake, anna)
            for suffix in ("", "-wal", "-shm"):
                os.remove(f"{database}{suffix}")
            assert await bot.exit_code(30) == EXIT_DATABASE_UNUSABLE, bot.log
        assert "database file was deleted" in bot.log


async def test_a_replaced_database_stops_the_bot_instead_of_writing_to_the_old_one(
    tmp_path: Path,
):
    """A backup restored over the file while the bot runs: the bot would go on writing to
    the old file, now nameless; it stops instead, and its restart serves the new one."""
    database = tmp_path / "replaced.sqlite3"
    async with FakeTelegram() as fake:
        cast = populate(fake)
        anna, bo = cast.volunteers[:2]
        async with peerbot_run(fake, cast, database) as bot:
            assert "Velkommen, Anna" in await started(fake, anna)
            copy = tmp_path / "copy.sqlite3"
            with sqlite3.connect(database) as source, sqlite3.connect(copy) as target:
                source.backup(target)
            os.replace(copy, database)
            assert await bot.exit_code(30) == EXIT_DATABASE_UNUSABLE, bot.log
        assert "database file was replaced" in bot.log
        async with peerbot_run(fake, cast, database):
            assert "Velkommen, Bo" in await started(fake, bo)


async def test_a_start_on_a_locked_database_ends_in_one_line_and_exit_code_4(tmp_path: Path):
    """A supervisor's restart while another process still holds the write lock: one line
    saying why, the failure code systemd restarts on, no traceback."""
    database = tmp_path / "locked_at_start.sqlite3"
    async with FakeTelegram() as fake:
        cast = populate(fake)
        env = bot_env(fake, cast, f"sqlite:///{database}")
        migrate = await spawn(env, tmp_path, "-m", "bot", "migrate")
        await asyncio.wait_for(migrate.communicate(), 60)
        blocker = sqlite3.connect(database)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            run = processes.BotProcess(await spawn(env, tmp_path, "-m", "bot", "run"))
            assert await run.exit_code(90) == EXIT_DATABASE_UNUSABLE, run.log
        finally:
            blocker.rollback()
            blocker.close()
        assert "Traceback" not in run.log, run.log
        [line] = [
            line for line in run.log.splitlines() if "PeerBot cannot use its database" in line
        ]
        assert "database is locked" in line


# `peerbot run` with everything imported, started the moment a file appears: the two
# processes then reach the empty database within a millisecond of each other.
RACER = """
import os, sys, time
import alembic.command, bot.runner
from bot import cli
while not os.path.exists(sys.argv[1]):
    time.sleep(0.001)
sys.exit(cli.main(["run"]))
"""


async def test_two_first_starts_racing_on_an_empty_database_end_in_the_one_line_refusal(
    tmp_path: Path,
):
    async with FakeTelegram() as fake:
        cast = populate(fake)
        for round_ in range(4):
            database = tmp_path / f"race{round_}.sqlite3"
            go = tmp_path / f"go{round_}"
            env = bot_env(fake, cast, f"sqlite:///{database}")
            both = [await spawn(env, tmp_path, "-c", RACER, str(go)) for _ in range(2)]
            try:
                await asyncio.sleep(4)  # both have imported everything and wait
                go.touch()
                done, _ = await asyncio.wait(
                    [asyncio.ensure_future(p.communicate()) for p in both],
                    timeout=90,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                [(output, _err)] = [d.result() for d in done]
                loser = next(p for p in both if p.returncode is not None)
                text = output.decode()
                assert loser.returncode == 3, text
                assert "Another PeerBot is running on this database" in text
                assert "Traceback" not in text and len(text.strip().splitlines()) <= 3
            finally:
                for process in both:
                    if process.returncode is None:
                        process.terminate()
                        await process.wait()


async def test_an_unexpected_error_outside_the_handlers_holds_back_no_later_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """An error no retry can mend, raised around the handlers (here a forced bug in the
    record of handled updates): the update is given up and confirmed, so Telegram does not
    send the whole backlog again and again and later updates are confirmed as usual."""
    from bot import app as bot_app

    async with sandbox(tmp_path / "unexpected.sqlite3") as (box, cast):
        anna, bo = cast.volunteers[:2]
        await box.say(anna, "/start")
        record = bot_app.updates.record_handled

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("a bug")

        monkeypatch.setattr(bot_app.updates, "record_handled", broken)
        await box.say(anna, "/pause")
        monkeypatch.setattr(bot_app.updates, "record_handled", record)
        await box.say(bo, "/start")
        assert "Velkommen, Bo" in box.last_text_to(bo.id)
        await box.fake.wait_for(lambda c: box.fake.pending_updates == [], timeout=15)
