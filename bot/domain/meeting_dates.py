"""Pure date rules of the monthly meeting: candidate dates, when the poll opens, when the
reminders go out, and which date wins. No database, no Telegram, no wall clock.

Every local time is built with `datetime.combine(day, time, tzinfo=tz)` and only then
converted to UTC, so "17:00" stays 17:00 on both sides of a daylight-saving change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from bot.domain import typed_dates
from bot.domain.localtime import local_to_utc, local_today

# English and Danish weekday abbreviations (Monday = 0), as people type them.
WEEKDAYS = {
    "mon": 0, "man": 0, "monday": 0, "mandag": 0,
    "tue": 1, "tir": 1, "tuesday": 1, "tirsdag": 1,
    "wed": 2, "ons": 2, "wednesday": 2, "onsdag": 2,
    "thu": 3, "tor": 3, "thursday": 3, "torsdag": 3,
    "fri": 4, "fre": 4, "friday": 4, "fredag": 4,
    "sat": 5, "lør": 5, "saturday": 5, "lørdag": 5,
    "sun": 6, "søn": 6, "sunday": 6, "søndag": 6,
}  # fmt: skip
WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_CANDIDATES = 11  # a Telegram poll has at most 12 options; one is "none of the days"


@dataclass(frozen=True)
class Slot:
    """A weekday and a local time a meeting can be held at, e.g. Tuesday 17:00."""

    weekday: int
    at: time

    def __str__(self) -> str:
        return f"{WEEKDAY_KEYS[self.weekday]} {self.at:%H:%M}"


@dataclass(frozen=True)
class PollOpening:
    """The poll for a month opens on `day` of the month before, at `at` local time."""

    day: int
    at: time

    def __str__(self) -> str:
        return f"{self.day} {self.at:%H:%M}"


@dataclass(frozen=True)
class Lead:
    """How long before the meeting a reminder goes out: `days` before at local time `at`
    ("1d@10:00"), or a plain duration before it ("2h", "30m", "2d")."""

    days: int = 0
    at: time | None = None
    before: timedelta = timedelta(0)

    def __str__(self) -> str:
        if self.at is not None:
            return f"{self.days}d@{self.at:%H:%M}"
        minutes = int(self.before.total_seconds() // 60)
        if minutes % (24 * 60) == 0:
            return f"{minutes // (24 * 60)}d"
        if minutes % 60 == 0:
            return f"{minutes // 60}h"
        return f"{minutes}m"


# Parsing what the coordinator types (or `.env` holds) ------------------------------------


def parse_time(text: str) -> time:
    """'17:00', '17.00' or '9:30' -> time; ValueError otherwise."""
    match = re.fullmatch(r"\s*(\d{1,2})[:.](\d{2})\s*", text)
    if not match:
        raise ValueError(f"not a time: {text!r}")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ValueError(f"not a time: {text!r}")
    return time(hour, minute)


def parse_slots(text: str) -> list[Slot]:
    """'tue 17:00, wed 17:00, thu 16:30' -> slots (Danish weekday names work too)."""
    slots = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        words = part.split()
        if len(words) != 2 or words[0].lower() not in WEEKDAYS:
            raise ValueError(f"not a weekday and time: {part!r}")
        slots.append(Slot(WEEKDAYS[words[0].lower()], parse_time(words[1])))
    if not slots:
        raise ValueError("no weekday and time given")
    return sorted(set(slots), key=lambda s: (s.weekday, s.at))


def parse_poll_opening(text: str) -> PollOpening:
    """'15 10:00' -> the 15th of the month before, 10:00."""
    words = text.split()
    if len(words) != 2 or not words[0].isdigit() or not 1 <= int(words[0]) <= 28:
        raise ValueError(f"not a day (1-28) and a time: {text!r}")
    return PollOpening(int(words[0]), parse_time(words[1]))


def parse_leads(text: str) -> list[Lead]:
    """'1d@10:00, 2h' -> the day before at 10:00, and two hours before ('2t', Danish
    "timer", is two hours too)."""
    leads = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if match := re.fullmatch(r"(\d{1,2})d@(\d{1,2}[:.]\d{2})", part):
            if int(match[1]) < 1:
                raise ValueError(f"a day-before reminder needs at least 1 day: {part!r}")
            leads.append(Lead(days=int(match[1]), at=parse_time(match[2])))
        elif match := re.fullmatch(r"(\d{1,4})([dhtm])", part):
            hour = timedelta(hours=1)
            unit = {"d": timedelta(days=1), "h": hour, "t": hour, "m": timedelta(minutes=1)}
            before = int(match[1]) * unit[match[2]]
            if before <= timedelta(0):
                raise ValueError(f"not a lead time: {part!r}")
            leads.append(Lead(before=before))
        else:
            raise ValueError(f"not a lead time: {part!r}")
    return leads


def parse_positive(text: str, *, maximum: int) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= maximum:
        raise ValueError(f"not a number from 1 to {maximum}: {text!r}")
    return int(text)


def parse_dates(text: str, tz: ZoneInfo, today: date | None = None) -> list[datetime]:
    """'9.12.2026 17:00, 10/12 16.30, 2026-12-11 17:00' -> UTC moments, in order; ValueError
    when a part is not a date and a time (a date without a year needs `today`)."""
    moments = []
    for part in (p.strip() for p in text.split(",")):
        words = part.replace(" kl. ", " ").split()
        if len(words) != 2:
            raise ValueError(f"not a date and time: {part!r}")
        has_year = sum(words[0].rstrip(".").count(c) for c in "./-") >= 2
        if today is None and not has_year:
            raise ValueError(f"a date needs its year: {part!r}")
        day = typed_dates.parse_day(words[0], today or date.min)
        if day is None:
            raise ValueError(f"not a date: {part!r}")
        try:
            moments.append(local_moment(day, parse_time(words[1]), tz))
        except OverflowError as error:  # year 1 or 9999: no UTC moment exists for it
            raise ValueError(f"no such moment: {part!r}") from error
    return sorted(set(moments))


def allowed_days(now: datetime, tz: ZoneInfo) -> tuple[date, date]:
    """The first and last day a typed meeting date may fall on: today up to two years on."""
    today = local_today(now, tz)
    return today, typed_dates.last_allowed_day(today)


def within_allowed_days(moment: datetime, now: datetime, tz: ZoneInfo) -> bool:
    """Ahead of now and at most two years on (see `allowed_days`)."""
    _first, last = allowed_days(now, tz)
    return now < moment and local_today(moment, tz) <= last


# Local time -> UTC --------------------------------------------------------------------------


local_moment = local_to_utc  # the meeting rules' name for it


def month_key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


@cache
def danish_holidays(year: int) -> frozenset[date]:
    """Denmark's public holidays by law: three fixed days and those that follow Easter
    (Store Bededag until 2023). The same days as `holidays.Denmark` (tests/test_bench_smoke.py
    compares them over 150 years), without the ~300 modules of other calendars that package
    loads: about 12 MiB resident for the bot's whole life."""
    easter = easter_sunday(year)
    after_easter = [-3, -2, 0, 1, 39, 49, 50] + ([26] if year < 2024 else [])
    fixed = {date(year, 1, 1), date(year, 12, 25), date(year, 12, 26)}
    return frozenset(fixed | {easter + timedelta(days=n) for n in after_easter})


def easter_sunday(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday_shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday_shift) // 451
    month, day = divmod(h + weekday_shift - 7 * m + 114, 31)
    return date(year, month, day + 1)


# Not public holidays by law, but days Danes keep for family: Christmas Eve, New Year's Eve
# and Constitution Day (a half day off for many). A meeting there would suit nobody.
DAYS_KEPT_FREE = {(12, 24), (12, 31), (6, 5)}


def is_public_holiday(day: date) -> bool:
    return day in danish_holidays(day.year) or (day.month, day.day) in DAYS_KEPT_FREE


# Candidates ---------------------------------------------------------------------------------


def all_slot_moments(
    year: int, month: int, slots: Sequence[Slot], tz: ZoneInfo, now: datetime
) -> list[datetime]:
    """Every slot in the month that is still ahead and not on a Danish public holiday (or
    a day kept for family, like Christmas Eve)."""
    moments = []
    day = date(year, month, 1)
    while day.month == month:
        if not is_public_holiday(day):
            for slot in slots:
                if slot.weekday == day.weekday():
                    moment = local_moment(day, slot.at, tz)
                    if moment > now:
                        moments.append(moment)
        day += timedelta(days=1)
    return sorted(moments)


def spread(moments: Sequence[datetime], count: int) -> list[datetime]:
    """`count` of the moments spread evenly over the month (first and last included)."""
    if count >= len(moments):
        return list(moments)
    if count == 1:
        return [moments[0]]
    step = (len(moments) - 1) / (count - 1)
    return [moments[round(i * step)] for i in range(count)]


def candidate_dates(
    year: int, month: int, slots: Sequence[Slot], count: int, tz: ZoneInfo, now: datetime
) -> list[datetime]:
    """The dates to offer in the poll for a month: up to `count` slots spread over it,
    skipping public holidays and the past."""
    return spread(all_slot_moments(year, month, slots, tz, now), min(count, MAX_CANDIDATES))


# The schedule -------------------------------------------------------------------------------


def poll_opening_for(year: int, month: int, opening: PollOpening, tz: ZoneInfo) -> datetime:
    """When the poll for the meeting in (year, month) opens: in the month before."""
    before_year, before_month = previous_month(year, month)
    return local_moment(date(before_year, before_month, opening.day), opening.at, tz)


def upcoming_poll_month(now: datetime, tz: ZoneInfo) -> tuple[int, int]:
    """The month whose poll opens in the current local month: the next one."""
    local = now.astimezone(tz)
    return next_month(local.year, local.month)


def reminder_moment(starts_at: datetime, lead: Lead, tz: ZoneInfo) -> datetime:
    """When a reminder with this lead goes out for a meeting at `starts_at`."""
    if lead.at is not None:
        day = starts_at.astimezone(tz).date() - timedelta(days=lead.days)
        return local_moment(day, lead.at, tz)
    return starts_at - lead.before


def winner(yes_counts: Sequence[tuple[datetime, int]]) -> datetime | None:
    """The date most people can come to; a tie goes to the earlier date; None if nobody."""
    best = [(-count, moment) for moment, count in yes_counts if count > 0]
    return min(best)[1] if best else None
