"""The systemd unit in deploy/ (README, "Running in production"): systemd accepts it, it
restarts PeerBot after the failures a restart can mend (exit code 4: the database was
unusable) and never after those that need a person (2: configuration, 3: another PeerBot)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.runner import DatabaseUnusable
from tests.processes import EXIT_DATABASE_UNUSABLE

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "peerbot.service"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    parser.read_string(UNIT.read_text())
    return parser


def test_the_unit_restarts_on_failure_but_not_when_a_person_is_needed():
    service = unit()["Service"]
    assert service["ExecStart"].split()[1:] == ["run"]
    assert service["Restart"] == "on-failure"
    never = {int(code) for code in service["RestartPreventExitStatus"].split()}
    assert never == {2, 3}
    assert DatabaseUnusable.exit_code == EXIT_DATABASE_UNUSABLE not in never
    # Where systemd reads them: under [Service] StartLimitIntervalSec is ignored.
    assert {"StartLimitIntervalSec", "StartLimitBurst"} <= set(unit()["Unit"])
    assert not {"StartLimitIntervalSec", "StartLimitBurst"} & set(service)
    # The database folder is the one place it may write (ProtectSystem=strict).
    assert service["ProtectSystem"] == "strict"
    assert service["ReadWritePaths"] == service["WorkingDirectory"] + "/data"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_unit(tmp_path: Path):
    # The unit's program is on the server, not here: verify it with one that exists.
    copy = tmp_path / "peerbot.service"
    service = unit()["Service"]
    copy.write_text(UNIT.read_text().replace(service["ExecStart"].split()[0], "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    complaints = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if str(copy) in line or "Unknown" in line
    ]
    assert result.returncode == 0 and complaints == [], result.stdout + result.stderr
