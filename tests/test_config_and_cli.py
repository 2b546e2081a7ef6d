"""`peerbot check` and the configuration: clear one-line problems, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], cwd: Path, env: dict[str, str] | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(
        ("TELEGRAM_", "DATABASE_", "GROUP_", "COORDINATOR_", "TIMEZONE", "LANGUAGE"))}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env=clean, capture_output=True,
        text=True, timeout=60,
    )


def test_check_with_a_broken_env_file_lists_each_problem_and_exits_2(tmp_path: Path):
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=not-a-token\nGROUP_CHAT_ID=12345\nCOORDINATOR_IDS=anna,bo\n"
        "TIMEZONE=Europe/Kobenhavn\n"
    )
    result = run_cli(["check"], tmp_path)
    assert result.returncode == 2
    lines = result.stdout.strip().splitlines()
    assert any(line.startswith("COORDINATOR_IDS:") for line in lines)
    assert any(line.startswith("TIMEZONE:") for line in lines)
    assert "Traceback" not in result.stdout + result.stderr


def test_check_reports_missing_token_and_group(tmp_path: Path):
    (tmp_path / ".env").write_text("COORDINATOR_IDS=42\n")
    result = run_cli(["check"], tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is missing" in result.stdout
    assert "GROUP_CHAT_ID is missing" in result.stdout


def test_check_passes_a_good_configuration(tmp_path: Path):
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678\nGROUP_CHAT_ID=-100123\n"
        "COORDINATOR_IDS=42, 43\n"
    )
    result = run_cli(["check"], tmp_path)
    assert result.returncode == 0, result.stdout


def test_run_refuses_to_start_without_a_token(tmp_path: Path):
    result = run_cli(["run"], tmp_path)
    assert result.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is missing" in result.stderr


def test_migrate_creates_the_sqlite_database_with_wal(tmp_path: Path):
    import sqlite3

    result = run_cli(["migrate"], tmp_path)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "data" / "peerbot.sqlite3"
    with sqlite3.connect(database) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert {"groups", "people", "pauses", "alembic_version"} <= tables


async def test_migrate_brings_a_postgresql_database_up_to_date(
    tmp_path: Path, postgres_server: str | None
):
    import asyncio

    import pytest
    from sqlalchemy import inspect

    from storage.db import Database
    from tests.postgres import create_database

    if postgres_server is None:
        pytest.skip("PostgreSQL could not be started here (see the warning above)")
    url = await create_database(postgres_server, f"cli_migrate_{os.getpid()}")
    plain_url = url.replace("+asyncpg", "")  # what people copy from their host's panel
    result = await asyncio.to_thread(run_cli, ["migrate"], tmp_path, {"DATABASE_URL": plain_url})
    assert result.returncode == 0, result.stderr
    again = await asyncio.to_thread(run_cli, ["migrate"], tmp_path, {"DATABASE_URL": plain_url})
    assert again.returncode == 0, again.stderr
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            tables = set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await database.dispose()
    assert {"groups", "people", "pauses", "meetings", "matches", "handled_updates"} <= tables
