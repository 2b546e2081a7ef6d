"""Cheap checks that keep the layers honest (see ARCHITECTURE.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def test_storage_and_domain_do_not_import_telegram():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files("storage", "bot/domain")
        if re.search(r"^\s*(import telegram|from telegram)", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


def test_nothing_but_the_clock_reads_the_wall_clock():
    pattern = re.compile(r"datetime\.(now|utcnow|today)\(|date\.today\(|time\.time\(\)")
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files("bot", "handlers", "storage")
        if path.name != "clock.py"
        and "fake_telegram" not in path.parts
        and pattern.search(path.read_text())
    ]
    assert offenders == []


def test_storage_never_commits():
    offenders = [
        str(path.relative_to(ROOT))
        for path in python_files("storage", "bot/domain", "handlers")
        if re.search(r"session\.commit\(", path.read_text())
    ]
    assert offenders == []
