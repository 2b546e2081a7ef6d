"""Dates and times as people type them, one reading for every feature (see GLOSSARY.md).

Dates: `9.12`, `9/12`, `9-12`, `9.12.2027`, `9/12/27`, `9-12-2027` and ISO `2027-12-09`. A
date without a year is the next such day from `today` (today included). Times: `10:00`,
`10.00`, `kl. 10`, `10`. Examples shown to people are written `9.12.2027` and `kl. 10.00`.
"""

from __future__ import annotations

import re
from datetime import date, time

# How far ahead a typed date may be: further is a typing mistake, not a plan.
YEARS_AHEAD = 2

_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_DAY_FIRST = re.compile(r"(\d{1,2})[./-](\d{1,2})(?:[./-](\d{2}|\d{4}))?")


def parse_day(text: str, today: date) -> date | None:
    """A typed date, or None when it isn't one."""
    text = text.strip().rstrip(".")
    try:
        if match := _ISO.fullmatch(text):
            return date(int(match[1]), int(match[2]), int(match[3]))
        if match := _DAY_FIRST.fullmatch(text):
            day, month = int(match[1]), int(match[2])
            if match[3] is not None:
                year = int(match[3])
                return date(year + 2000 if year < 100 else year, month, day)
            return _next(day, month, today)
    except ValueError:
        return None
    return None


def _next(day: int, month: int, today: date) -> date | None:
    """The next `day`.`month` on or after today (29.2 waits for a leap year)."""
    for year in range(today.year, today.year + 9):
        try:
            chosen = date(year, month, day)
        except ValueError:
            if (month, day) != (2, 29):
                return None
            continue
        if chosen >= today:
            return chosen
    return None


def last_allowed_day(today: date) -> date:
    """The last day a typed date may fall on: the same day two years on (28 February for
    29 February)."""
    try:
        return today.replace(year=today.year + YEARS_AHEAD)
    except ValueError:  # 29 February
        return today.replace(year=today.year + YEARS_AHEAD, day=28)


def parse_clock(text: str) -> time | None:
    """ "10:00", "10.00", "kl. 10", "10" -> 10:00; None when it isn't a time of day."""
    text = text.strip().lower().removeprefix("kl.").removeprefix("kl").strip()
    match = re.fullmatch(r"(\d{1,2})(?:[:.](\d{2}))?", text)
    if not match:
        return None
    hours, minutes = int(match[1]), int(match[2] or 0)
    return time(hours, minutes) if hours < 24 and minutes < 60 else None


def example_day(day: date) -> str:
    """How a date is written in an example: 9.12.2027."""
    return f"{day.day}.{day.month}.{day.year}"


def example_clock(at: time, language: str) -> str:
    """How a time is written in an example: 10.00 in Danish, 10:00 in English."""
    return at.strftime("%H.%M" if language == "da" else "%H:%M")
