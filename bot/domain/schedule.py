"""Rhythms in local wall-clock time: which dates a weekly or fortnightly meeting falls on,
and when (in UTC) a meeting or a reminder happens. Stepping is always done on local dates,
never by adding days to a UTC instant, so an 18:00 meeting stays at 18:00 across DST."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.localtime import local_to_utc, local_today  # noqa: F401 (re-exported)

WEEKLY = "weekly"
BIWEEKLY = "biweekly"
DATES = "dates"

DAY_BEFORE = "day_before"
HOURS_BEFORE = "hours_before"


def first_on_or_after(start: date, weekday: int) -> date:
    return start + timedelta(days=(weekday - start.weekday()) % 7)


def rhythm_dates(
    rhythm: str,
    weekday: int,
    start: date,
    *,
    after: date,
    through: date,
    end: date | None = None,
) -> Iterator[date]:
    """Local dates of a weekly/biweekly rhythm that runs from `start` (counting every other
    week from the first meeting on or after `start`), within [after, through] and not past
    `end`."""
    step = 14 if rhythm == BIWEEKLY else 7
    first = first_on_or_after(start, weekday)
    if after > first:
        skipped = (after - first).days // step
        day = first + timedelta(days=skipped * step)
        if day < after:
            day += timedelta(days=step)
    else:
        day = first
    last = min(through, end) if end is not None else through
    while day <= last:
        yield day
        day += timedelta(days=step)


def reminder_due(
    lead: str,
    local_date: date,
    starts_at: datetime,
    tz: ZoneInfo,
    *,
    day_before_hour: int = 18,
    hours_before: int = 2,
) -> datetime:
    """When a reminder is due: "the day before at HH:00" (local), or "N hours before"."""
    if lead == DAY_BEFORE:
        return local_to_utc(local_date - timedelta(days=1), time(day_before_hour, 0), tz)
    return starts_at - timedelta(hours=hours_before)
