"""Bring a database's schema up to date with Alembic, from a CLI or from the running bot."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"

_REVISION = re.compile(r"""^revision\b[^=\n]*=\s*["']([^"']+)["']""", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\b[^=\n]*=(.*)$", re.MULTILINE)
_DEPENDS_ON = re.compile(r"^depends_on\b[^=\n]*=(.*)$", re.MULTILINE)
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


# PostgreSQL advisory lock key held while migrating (any constant unique to PeerBot).
MIGRATION_LOCK_KEY = 0x5EE7B07


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every migration not yet applied (idempotent). Two starts racing on a new
    database take turns: the second finds the schema done (and then meets the first one's
    lease) instead of failing halfway through creating the same tables."""
    async with _migration_lock(engine):
        if await is_up_to_date(engine):
            # Alembic (with Mako and Pygments) would stay loaded for the bot's whole life:
            # about 15 MiB resident, for a check that found nothing to do.
            return

        def _upgrade(connection: Connection) -> None:
            from alembic import command

            config = alembic_config(str(engine.url.render_as_string(hide_password=False)))
            config.attributes["connection"] = connection
            command.upgrade(config, "heads")  # features add independent branches

        async with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # Held to the end of this transaction; Alembic reads the version after it.
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            await connection.run_sync(_upgrade)


@contextlib.asynccontextmanager
async def _migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """For an SQLite file: an exclusive lock on a file beside it (released by the kernel
    if the process dies). PostgreSQL locks inside the migration's transaction instead."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(f"{database}.migrating")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock_file:  # noqa: ASYNC230 (an empty file, once per start)
        await asyncio.to_thread(fcntl.flock, lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)


def script_heads() -> set[str] | None:
    """The newest revision of each branch, read from the migration files without loading
    Alembic; None when a file is not understood (Alembic then decides). A misread
    `down_revision` only adds heads, so it can never hide a migration that is due."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            return None
        revisions.add(revision.group(1))
        parents.update(_QUOTED.findall(down.group(1)))
    return (revisions - parents) or None


def script_dependencies() -> set[str]:
    """Revisions another branch's migration `depends_on` (read without loading Alembic)."""
    found: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        depends = _DEPENDS_ON.search(path.read_text(encoding="utf-8"))
        if depends is not None:
            found.update(_QUOTED.findall(depends.group(1)))
    return found


async def is_up_to_date(engine: AsyncEngine) -> bool:
    """Does the database already carry exactly the scripts' heads? (Alembic leaves out of
    its version table a head that another branch's applied migration depends on.)"""
    heads = script_heads()
    if heads is None:
        return False
    heads -= script_dependencies()

    def _applied(connection: Connection) -> set[str] | None:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())

    async with engine.connect() as connection:
        return await connection.run_sync(_applied) == heads
