"""The one place that reads the wall clock; everything else asks a `Clock`."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

# Test hook, never set in production: a file holding the current moment (ISO 8601), so a
# test can drive the clock of a bot running in another process (tests/test_simulated_month.py).
FAKE_CLOCK_FILE_ENV = "PEERBOT_FAKE_CLOCK_FILE"


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, timezone-aware, in UTC."""


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that only moves when told to: tests and the demo drive time with it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FakeClock needs timezone-aware moments")
        self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now


class FileClock:
    """A clock read from a file another process writes (an ISO 8601 moment with its offset).

    Only for tests that run `peerbot run` as a real process and move its time: selected by
    `clock_from_environment` when PEERBOT_FAKE_CLOCK_FILE is set (`peerbot check` warns)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._last: datetime | None = None

    def now(self) -> datetime:
        try:
            moment = datetime.fromisoformat(self.path.read_text().strip())
        except (OSError, ValueError):
            # Caught mid-write: keep the last moment read (time never jumps back).
            if self._last is None:
                raise
            return self._last
        if moment.tzinfo is None:
            raise ValueError(f"{self.path} must hold a timezone-aware moment")
        self._last = moment.astimezone(UTC)
        return self._last

    @staticmethod
    def write(path: str | Path, moment: datetime) -> None:
        """Set the time atomically (write then rename: a reader never sees half a moment)."""
        if moment.tzinfo is None:
            raise ValueError("FileClock needs timezone-aware moments")
        target = Path(path)
        scratch = target.with_name(target.name + ".tmp")
        scratch.write_text(moment.astimezone(UTC).isoformat())
        os.replace(scratch, target)


def clock_from_environment() -> Clock:
    """The system clock, unless the test hook PEERBOT_FAKE_CLOCK_FILE names a file."""
    path = os.environ.get(FAKE_CLOCK_FILE_ENV)
    return FileClock(path) if path else SystemClock()
