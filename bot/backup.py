"""`peerbot backup <file>` and `peerbot restore <file>`.

SQLite: the online backup API (`sqlite3.Connection.backup`), a consistent copy even while
the bot writes. PostgreSQL: `pg_dump -Fc` and `pg_restore --clean --if-exists`. A restore
refuses while a bot holds the database's instance lease (it would write over the restore),
clears the copied lease afterwards, and brings the schema up to date.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from bot.domain import instance, updates
from storage.db import Database
from storage.migrate import upgrade


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why, in one line."""


# -- SQLite ------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """Page-by-page copy through SQLite itself (safe while another process writes)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _check_sqlite_backup(path: Path) -> None:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as error:
        raise BackupError(f"{path} is not an SQLite database ({error})") from error
    if "alembic_version" not in tables or "people" not in tables:
        raise BackupError(f"{path} is not a PeerBot backup")


def _backup_sqlite(url: URL, target: Path) -> None:
    source = _sqlite_path(url)
    if not source.exists():
        raise BackupError(f"there is no database at {source}")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    _sqlite_copy(source, partial)
    partial.replace(target)


def _restore_sqlite(url: URL, backup_file: Path) -> None:
    _check_sqlite_backup(backup_file)
    live = _sqlite_path(url)
    live.parent.mkdir(parents=True, exist_ok=True)
    # Through SQLite rather than a file copy: the live file's WAL stays consistent.
    _sqlite_copy(backup_file, live)


# -- PostgreSQL --------------------------------------------------------------------------


def find_pg_tool(name: str) -> str:
    """`pg_dump`/`pg_restore` on PATH, else the newest of Debian's versioned folders."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if not candidates:
        raise BackupError(f"{name} was not found: install the PostgreSQL client tools")
    return candidates[-1]


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    """Connection options for the client tools; the password goes in the environment,
    never on the command line (where `ps` would show it)."""
    args = []
    if url.host:
        args += ["-h", url.host]
    if url.port:
        args += ["-p", str(url.port)]
    if url.username:
        args += ["-U", url.username]
    args += ["-d", url.database or "postgres"]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run_tool(command: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BackupError(f"{Path(command[0]).name} failed: {last}")


def _backup_postgres(url: URL, target: Path) -> None:
    args, env = _pg_args(url)
    partial = target.with_name(target.name + ".partial")
    _run_tool([find_pg_tool("pg_dump"), "-Fc", "--no-owner", "-f", str(partial), *args], env)
    partial.replace(target)


def _restore_postgres(url: URL, backup_file: Path) -> None:
    args, env = _pg_args(url)
    _run_tool(
        [
            find_pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            *args,
            str(backup_file),
        ],
        env,
    )


# -- Both --------------------------------------------------------------------------------


def _parse(database_url: str) -> URL:
    url = make_url(database_url)
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise BackupError("only SQLite and PostgreSQL databases can be backed up")
    return url


def _writable_target(file: str | Path) -> Path:
    target = Path(file).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _existing_backup(file: str | Path) -> Path:
    backup_file = Path(file).resolve()
    if not backup_file.is_file():
        raise BackupError(f"there is no backup at {backup_file}")
    return backup_file


async def backup(database_url: str, file: str | Path) -> Path:
    """Write a consistent copy of the database to `file` (safe while the bot runs)."""
    url = _parse(database_url)
    target = await asyncio.to_thread(_writable_target, file)
    work = _backup_sqlite if url.get_backend_name() == "sqlite" else _backup_postgres
    await asyncio.to_thread(work, url, target)
    return target


async def _refuse_if_running(database_url: str, now: datetime) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        exists = await asyncio.to_thread(_sqlite_path(url).exists)
        if not exists:
            return
    database = Database(database_url)
    try:
        async with database.transaction() as session:
            lease = await instance.current_lease(session)
    except DBAPIError:  # no lease table (yet): nothing can be running on it
        lease = None
    finally:
        await database.dispose()
    if instance.is_live(lease, now):
        raise BackupError(
            "PeerBot is running on this database; stop it before restoring "
            "(otherwise it would write over the restored data)"
        )


async def restore(database_url: str, file: str | Path, *, now: datetime) -> None:
    """Replace the database's contents with a backup. Refuses while a bot is running.

    `now` comes from the caller's clock: the lease it compares with was written in that
    clock's time, which in tests and the demo is not the wall clock."""
    url = _parse(database_url)
    backup_file = await asyncio.to_thread(_existing_backup, file)
    await _refuse_if_running(database_url, now)
    work = _restore_sqlite if url.get_backend_name() == "sqlite" else _restore_postgres
    await asyncio.to_thread(work, url, backup_file)
    database = Database(database_url)
    try:
        await upgrade(database.engine)  # a backup from an older version gets its migrations
        async with database.transaction() as session:
            await instance.clear(session)  # the copy's lease holder is not running here
            # The copy's record of handled updates belongs to its own past: update ids
            # Telegram sends from now on must not be mistaken for re-deliveries.
            await updates.forget_all(session)
    finally:
        await database.dispose()
