"""`peerbot backup` / `peerbot restore`: fill a database through the running bot, back it
up while it runs, wipe it, restore, and find everything again (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.backup import BackupError, backup, restore
from bot.clock import FAKE_CLOCK_FILE_ENV, FileClock
from bot.sandbox import Sandbox, sandbox
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Person
from tests.postgres import create_database

# Any moment: nothing runs on these databases, so no lease can be live whatever the time.
MOMENT = datetime(2031, 5, 17, 12, 0, tzinfo=UTC)


async def fill_through_the_bot(box: Sandbox, cast) -> None:
    await box.say(cast.coordinator, "/start")
    await box.say(cast.volunteers[0], "/start")
    await box.say(cast.volunteers[2], "/start")


async def names(database_url: str) -> set[str]:
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            return set(await session.scalars(select(Person.first_name)))
    finally:
        await database.dispose()


async def round_trip(tmp_path: Path, database_url: str, wipe) -> None:
    backup_file = tmp_path / "backups" / "peerbot.backup"
    async with sandbox(tmp_path / "unused.sqlite3", database_url=database_url) as (box, cast):
        await fill_through_the_bot(box, cast)
        await backup(database_url, backup_file)  # online, while the bot runs
        # A restore now would be overwritten by the running bot: refused.
        with pytest.raises(BackupError, match="running on this database"):
            await restore(database_url, backup_file, now=box.clock.now())
        stopped_at = box.clock.now()
    assert backup_file.stat().st_size > 0
    await wipe()
    assert await names(database_url) == set()
    await restore(database_url, backup_file, now=stopped_at)
    assert await names(database_url) == {"Mette", "Anna", "Camilla"}
    # The restored database serves again: the bot starts (the copied lease was cleared)
    # and still knows Anna and Camilla.
    async with sandbox(tmp_path / "unused.sqlite3", database_url=database_url) as (box, cast):
        await box.say(cast.coordinator, "/volunteers")
        listing = box.last_text_to(cast.coordinator.id)
        assert "Anna" in listing and "Camilla" in listing


async def test_backup_and_restore_on_sqlite(tmp_path: Path):
    path = tmp_path / "live" / "peerbot.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"

    async def wipe() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)  # noqa: ASYNC240
        database = Database(url)  # an empty database with the schema, like a fresh install

        await upgrade(database.engine)
        await database.dispose()

    await round_trip(tmp_path, url, wipe)


async def test_backup_and_restore_on_postgresql(tmp_path: Path, postgres_server: str | None):
    if postgres_server is None:
        pytest.skip("PostgreSQL could not be started here (see the warning): NOT TESTED")
    url = await create_database(postgres_server, f"b_{uuid.uuid4().hex[:12]}")

    async def wipe() -> None:
        database = Database(url)
        async with database.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await database.dispose()

        database = Database(url)
        await upgrade(database.engine)
        await database.dispose()

    await round_trip(tmp_path, url, wipe)


async def test_restore_refuses_what_is_not_a_peerbot_backup(tmp_path: Path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not a database")
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}"
    with pytest.raises(BackupError, match=r"not an SQLite database|not a PeerBot backup"):
        await restore(url, bogus, now=MOMENT)
    with pytest.raises(BackupError, match="no backup"):
        await restore(url, tmp_path / "missing.backup", now=MOMENT)


def test_backup_and_restore_from_the_command_line(tmp_path: Path):
    from tests.test_config_and_cli import run_cli

    # `peerbot restore` compares the lease with "now": the test's moment, through the hook.
    FileClock.write(tmp_path / "clock", MOMENT)
    hook = {FAKE_CLOCK_FILE_ENV: str(tmp_path / "clock")}
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:///data/peerbot.sqlite3\n")
    assert run_cli(["migrate"], tmp_path).returncode == 0
    made = run_cli(["backup", "copies/monday.sqlite3"], tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "copies" / "monday.sqlite3").stat().st_size > 0
    restored = run_cli(["restore", "copies/monday.sqlite3"], tmp_path, hook)
    assert restored.returncode == 0, restored.stderr
    missing = run_cli(["restore", "copies/nothing.sqlite3"], tmp_path, hook)
    assert missing.returncode == 2 and "no backup" in missing.stderr
    assert "Traceback" not in missing.stderr
