"""Local days and wall-clock times in the group's time zone: the one place they are
converted (stored times are UTC; people live in local time, across daylight saving)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The local date at the instant `now`."""
    return now.astimezone(tz).date()


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time. A time skipped by the spring DST change
    (02:30 on the last Sunday of March) becomes the same wall-clock time an hour later."""
    local = datetime.combine(day, at, tzinfo=tz)
    # Round-trip to detect a non-existent local time and move it forward.
    back = local.astimezone(UTC).astimezone(tz)
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        local = datetime.combine(day, at, tzinfo=tz) + timedelta(hours=1)
    return local.astimezone(UTC)
