"""Every setting is checked before the bot starts: `peerbot check` and `peerbot run` refuse
a bad value with one line naming the key and what is allowed, never a traceback; and the
token is never printed, not even when Telegram refuses it."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from bot.fake_telegram import FakeTelegram
from tests.test_config_and_cli import run_cli

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "7251836490:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"
GOOD = {"TELEGRAM_BOT_TOKEN": TOKEN, "GROUP_CHAT_ID": "-1001234567890", "COORDINATOR_IDS": "42"}

# Every bad value of issue 15 (case 6), with the part of the one line that says what is
# allowed: for a number, its whole range.
BAD_VALUES = [
    ("TELEGRAM_BOT_TOKEN", "123456:", "35 characters"),
    ("TELEGRAM_BOT_TOKEN", "7251836490 :AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ", "spaces"),
    ("GROUP_CHAT_ID", "-99999999999999999999", "from -9223372036854775808 to -1"),
    ("GROUP_CHAT_ID", "12345", "from -9223372036854775808 to -1"),
    ("COORDINATOR_IDS", "42, -1001234567890", "positive"),
    ("SCHEDULER_INTERVAL_SECONDS", "0", "from 0.1 to 3600"),
    ("SCHEDULER_INTERVAL_SECONDS", "-5", "from 0.1 to 3600"),
    ("MINUTES_RETENTION_MONTHS", "0", "from 1 to 120"),
    ("MINUTES_RETENTION_MONTHS", "-1", "from 1 to 120"),
    ("REMINDER_GRACE_MINUTES", "-10", "from 0 to 10080"),
    ("DIGEST_TIME", "25:00", "00:00-23:59"),
    ("DIGEST_TIME", "garbage", "00:00-23:59"),
    ("DIGEST_WEEKDAY", "9", "from 0 to 6"),
    ("UNMATCHED_WEEKS", "-1", "from 1 to 104"),
    ("UNMATCHED_WEEKS", "six", "from 1 to 104"),
    ("CANCELLED_IN_A_ROW", "0", "from 1 to 52"),
]


def write_env(folder: Path, **values: str) -> None:
    lines = [f"{key}={value}" for key, value in {**GOOD, **values}.items()]
    (folder / ".env").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_check_refuses_each_bad_value_with_one_line(
    tmp_path: Path, key: str, value: str, allowed: str
):
    write_env(tmp_path, **{key: value})
    result = run_cli(["check"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    [line] = [line for line in output.splitlines() if line.strip()]
    assert line.startswith(f"{key}: ") and allowed in line, line
    assert TOKEN not in output  # a near-miss token is not echoed either


def test_a_token_with_a_trailing_space_in_the_environment_is_refused(tmp_path: Path):
    write_env(tmp_path)
    result = run_cli(["check"], tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN + " "})
    assert result.returncode == 2
    assert result.stdout.startswith("TELEGRAM_BOT_TOKEN: ") and "spaces" in result.stdout
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(("key", "value", "allowed"), BAD_VALUES)
def test_run_refuses_each_bad_value_before_starting(
    tmp_path: Path, key: str, value: str, allowed: str
):
    write_env(tmp_path, **{key: value})
    result = run_cli(["run"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and TOKEN not in output
    [line] = [line for line in output.splitlines() if line.strip()]
    assert line.startswith(f"{key}: ") and allowed in line, line
    assert not (tmp_path / "data").exists()  # refused before touching the database


def test_good_values_at_the_edges_pass(tmp_path: Path):
    write_env(
        tmp_path,
        DIGEST_TIME="9.30",
        DIGEST_WEEKDAY="6",
        REMINDER_GRACE_MINUTES="0",
        COORDINATOR_IDS="42, 9223372036854775807",
    )
    result = run_cli(["check"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_non_utf8_env_file_gets_one_line(tmp_path: Path):
    (tmp_path / ".env").write_bytes(b"MEETING_PLACE=K\xf8kkenet\nCOORDINATOR_IDS=42\n")
    for command in (["check"], ["run"]):
        result = run_cli(command, tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 2 and "Traceback" not in output
        assert output.strip() == ".env: not UTF-8 text (byte 15); save it as UTF-8"


def test_an_unreadable_env_file_gets_one_line(tmp_path: Path):
    env_file = tmp_path / ".env"
    if os.geteuid() == 0:  # root reads any file, whatever its mode: one that fails to read
        env_file.symlink_to("/proc/self/mem")
    else:
        env_file.write_text("COORDINATOR_IDS=42\n")
        env_file.chmod(0)
    for command in (["check"], ["run"]):
        result = run_cli(command, tmp_path)
        output = result.stdout + result.stderr
        assert result.returncode == 2 and "Traceback" not in output, output
        assert output.strip().startswith(".env: cannot be read"), output


async def test_a_token_telegram_refuses_is_never_printed(tmp_path: Path):
    async with FakeTelegram() as fake:  # knows another token than the one configured
        env = {**GOOD, "TELEGRAM_BASE_URL": fake.base_url, "DATABASE_URL": "sqlite:///t.db"}
        result = await asyncio.to_thread(run_cli, ["run"], tmp_path, env)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert "Telegram refused TELEGRAM_BOT_TOKEN" in output
    assert "<token>" in output  # PTB's own log of the refusal, redacted


def test_an_uncaught_traceback_is_printed_without_the_token(tmp_path: Path):
    """Anything that escapes `peerbot` (here forced) goes through the redacting hook."""
    code = (
        "import sys; from bot import cli\n"
        "def boom(args): raise RuntimeError('rejected token " + TOKEN + "')\n"
        "cli.cmd_check = boom\n"
        "sys.exit(cli.main(['check']))\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": os.environ.get("PATH", "")}
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "rejected token <token>" in result.stderr
    assert TOKEN not in result.stderr
