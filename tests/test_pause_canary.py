"""The message to the coordinator is passed on and never kept: not in the database file (WAL
included), not in memory after sending, not in any log line at DEBUG."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.sandbox import Cast, Sandbox, sandbox
from tests.test_pause_e2e import START, ask_for_pause, pause_rows


@pytest.fixture
def every_logger_at_debug() -> Iterator[None]:
    """All loggers (PeerBot's and every library's) at DEBUG, put back afterwards."""
    manager = logging.root.manager
    before = {
        name: logger.level
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }

    def all_debug() -> None:
        for logger in list(manager.loggerDict.values()):
            if isinstance(logger, logging.Logger):
                logger.setLevel(logging.DEBUG)

    all_debug()
    yield
    for name, logger in list(manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):  # loggers made meanwhile go back to NOTSET
            logger.setLevel(before.get(name, logging.NOTSET))


def database_bytes(path: Path) -> bytes:
    """The raw bytes of the database and its write-ahead log (and shared-memory index)."""
    return b"".join(
        p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()
    )


async def test_the_message_to_the_coordinator_reaches_them_and_is_kept_nowhere(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, every_logger_at_debug: None
):
    caplog.set_level(logging.DEBUG)
    canary = f"Kanarie æøå {uuid.uuid4().hex}"
    database = tmp_path / "peerbot.sqlite3"
    async with sandbox(database, START) as (box, cast):
        for logger in logging.root.manager.loggerDict.values():  # loggers made at start
            if isinstance(logger, logging.Logger):
                logger.setLevel(logging.DEBUG)
        anna, mette = cast.volunteers[0], cast.coordinator
        await box.say(mette, "/start")
        await box.say(anna, "/start")
        await ask_for_pause(box, anna, "1m", note=canary)

        assert canary in box.last_text_to(mette.id)  # it reached the coordinator
        wal = Path(f"{database}-wal")
        assert wal.exists(), "the WAL file must be part of what is read"  # noqa: ASYNC240
        assert canary.encode() not in database_bytes(database)
        assert canary not in repr(dict(box.app.user_data)) + repr(box.app.bot_data)
        await box.say(anna, "/resume")
        await box.advance_to(START.replace(year=2027))
    # After a clean stop (the WAL is checkpointed into the file) it is still nowhere.
    assert canary.encode() not in database_bytes(database)
    logged = caplog.text + "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert len(caplog.records) > 50, "DEBUG logging was not captured: the test proves nothing"
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert canary not in logged
    assert canary.split()[-1] not in logged


async def test_an_unfinished_flow_forgets_the_typed_message(group: tuple[Sandbox, Cast]):
    box, cast = group
    bo = cast.volunteers[1]
    canary = f"halvvejs {uuid.uuid4().hex}"
    await box.say(bo, "/start")
    await box.say(bo, "/pause")
    await box.tap(bo, box.fake.last_message_to(bo.id), "pause:len:2w")
    await box.say(bo, canary)
    summary = box.fake.last_message_to(bo.id)
    assert canary in repr(dict(box.app.user_data))  # held only while the flow is open
    await box.advance(timedelta(hours=1))
    assert canary in repr(dict(box.app.user_data))
    await box.advance(timedelta(hours=1, minutes=1))
    assert canary not in repr(dict(box.app.user_data))
    # Confirming the old summary now starts nothing and sends nothing on.
    await box.tap(bo, summary, "pause:ok")
    assert "mistet tråden" in box.texts_to(bo.id)[-2]
    assert await pause_rows(box) == []
    assert all(canary not in t for t in box.texts_to(cast.coordinator.id))
