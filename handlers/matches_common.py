"""What the match handlers share: reading dates, weekdays and times people type, writing
rhythms and meetings the local way, and telling the coordinator."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from babel import Locale
from babel.dates import format_date

from bot.context import PeerContext
from bot.domain.matches import CANCELLED, MOVED, UpcomingMeeting
from bot.domain.schedule import BIWEEKLY, WEEKLY, local_today
from bot.domain.typed_dates import example_day, parse_clock, parse_day
from bot.i18n import Translate, format_when
from handlers.callbacks import Callbacks

# One way to tell the coordinators, for the match handlers that import it from here.
from handlers.delivery import tell_coordinators as tell_coordinators

if TYPE_CHECKING:
    from storage.models import Match, MatchOccurrence

log = logging.getLogger(__name__)


class MatchAction(StrEnum):
    """The `matches:` buttons."""

    # The coordinator's guided /match and /activity.
    PICK_VOLUNTEER = "gv"
    PICKED = "gnext"
    RHYTHM = "gr"
    NO_PLACE = "gp"
    FROM_TODAY = "gs"
    NO_END = "ge"
    # A volunteer's reminders and /meetings.
    COMING = "ok"
    CANCEL = "cx"
    CITIZEN_KNOWS = "cy"
    CITIZEN_NOT_TOLD = "cn"
    KEEP = "keep"
    TALK = "talk"
    MOVE = "mv"
    CHANGE_RHYTHM = "rh"
    RHYTHM_CHOSEN = "rw"
    # The coordinator's /endmatch and /cover.
    END = "end"
    COVER_MATCH = "cv"
    COVER_WITH = "cvp"


class ReminderAction(StrEnum):
    """The `reminders:` buttons of /settings."""

    SETTINGS = "settings"
    DAY_BEFORE = "day"
    HOURS_BEFORE = "hrs"
    DAY_HOUR = "dh"
    HOUR_COUNT = "hc"


# "Every week" / "every other week" on the rhythm buttons of /meetings.
RHYTHM_WEEKLY, RHYTHM_BIWEEKLY = "w", "b"

BUTTONS: Callbacks[MatchAction] = Callbacks("matches", MatchAction)
REMINDER_BUTTONS: Callbacks[ReminderAction] = Callbacks("reminders", ReminderAction)

WEEKDAYS = {
    **dict.fromkeys(("man", "mandag", "mon", "monday"), 0),
    **dict.fromkeys(("tir", "tirs", "tirsdag", "tue", "tues", "tuesday"), 1),
    **dict.fromkeys(("ons", "onsdag", "wed", "wednesday"), 2),
    **dict.fromkeys(("tor", "tors", "torsdag", "thu", "thur", "thurs", "thursday"), 3),
    **dict.fromkeys(("fre", "fredag", "fri", "friday"), 4),
    **dict.fromkeys(("lør", "lørdag", "lor", "sat", "saturday"), 5),
    **dict.fromkeys(("søn", "søndag", "son", "sun", "sunday"), 6),
}


def parse_weekday(text: str) -> int | None:
    return WEEKDAYS.get(text.strip().lower().rstrip("."))


# "10:00", "10.00", "kl. 10" -> 10:00; "9.12.2026", "9/12" (the next such date from today).
parse_time, parse_date = parse_clock, parse_day


def example_moment(day: date) -> str:
    """A date and time a week or so after `day`, as people may type it: 9.12.2026 10.00."""
    return f"{example_day(day + timedelta(days=8))} 10.00"


def parse_date_and_time(text: str, today: date) -> tuple[date, time] | None:
    words = text.replace(" kl. ", " ").replace(" kl ", " ").split()
    if len(words) != 2:
        return None
    day, at = parse_date(words[0], today), parse_time(words[1])
    return (day, at) if day and at else None


def parse_weekday_and_time(text: str) -> tuple[int, time] | None:
    words = text.replace(" kl. ", " ").replace(" kl ", " ").split()
    if len(words) != 2:
        return None
    weekday, at = parse_weekday(words[0]), parse_time(words[1])
    return (weekday, at) if weekday is not None and at else None


def weekday_name(weekday: int, language: str) -> str:
    monday = date(2026, 11, 30)
    return format_date(monday + timedelta(days=weekday), "EEEE", locale=Locale.parse(language))


def clock(at: time, language: str) -> str:
    return at.strftime("%H.%M" if language == "da" else "%H:%M")


def rhythm_text(match: Match, _: Translate, language: str) -> str:
    """ "every Tuesday at 10.00", "every other Thursday at 14.00", or "on single dates"."""
    if match.rhythm in (WEEKLY, BIWEEKLY) and match.weekday is not None and match.local_time:
        template = (
            _("every {weekday} at {time}")
            if match.rhythm == WEEKLY
            else _("every other {weekday} at {time}")
        )
        text = template.format(
            weekday=weekday_name(match.weekday, language), time=clock(match.local_time, language)
        )
        if match.end_date is not None:
            text += " " + _("until {day}").format(day=short_day(match.end_date, language))
        return text
    return _("on single dates")


def short_day(day: date, language: str) -> str:
    pattern = "d. MMMM yyyy" if language == "da" else "d MMMM yyyy"
    return format_date(day, pattern, locale=Locale.parse(language))


def when(context: PeerContext, moment: datetime, language: str) -> str:
    return format_when(moment, context.services.tz, language, now=context.services.clock.now())


def occurrence_line(
    context: PeerContext,
    occurrence: MatchOccurrence | UpcomingMeeting,
    _: Translate,
    language: str,
) -> str:
    text = when(context, occurrence.starts_at, language)
    if occurrence.status == CANCELLED:
        text += " " + _("(cancelled)")
    elif occurrence.status == MOVED:
        text += " " + _("(moved)")
    return text


def names(first_names: list[str], _: Translate) -> str:
    if len(first_names) <= 1:
        return "".join(first_names)
    return _("{names} and {last}").format(names=", ".join(first_names[:-1]), last=first_names[-1])


def today(context: PeerContext) -> date:
    return local_today(context.services.clock.now(), context.services.tz)
