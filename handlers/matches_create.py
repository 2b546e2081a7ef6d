"""What a new match or activity is: reading `/match` and `/activity` lines, creating the
match and telling its volunteers. The commands and the guided flow are in `matches_flow.py`."""

from __future__ import annotations

import logging
import re
import shlex
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import TYPE_CHECKING

from telegram import Update

from bot.context import PeerContext
from bot.domain import matches, people
from bot.domain.schedule import BIWEEKLY, DATES, WEEKLY
from bot.domain.typed_dates import example_day, last_allowed_day
from bot.i18n import N_, Translate, ngettext
from handlers.common import reply, texts_for
from handlers.delivery import send_to_person
from handlers.matches_common import (
    clock,
    names,
    parse_date,
    parse_time,
    parse_weekday,
    rhythm_text,
    today,
    when,
)

if TYPE_CHECKING:
    from storage.models import Match, Person, ReminderPreference

log = logging.getLogger(__name__)

MATCH_EXAMPLE = N_('/match @anna "K.L." weekly tue 10:00')
ACTIVITY_EXAMPLE = N_('/activity "Recovery-café" biweekly thu 14:00 until {day} @anna @bo')


def example(_: Translate, kind: str, day: date) -> str:
    """A one-line example in the reader's language; the end date some months from `day`."""
    if kind == "match":
        return _(MATCH_EXAMPLE)
    return _(ACTIVITY_EXAMPLE).format(day=example_day(day + timedelta(days=120)))


WHY_A_LABEL = N_(
    "What shall we call the citizen here? Please use initials or a nickname, never a full "
    "name: I keep as little as possible about the people we support, and a message can be "
    "read over someone's shoulder. For example: K.L."
)

ERRORS = {
    "no_volunteers": N_("Please name at least one volunteer, like @anna."),
    "too_many_volunteers": N_(
        "A match has one or two volunteers, an activity up to four. Please name fewer."
    ),
    "label_missing": N_('Please give the citizen a label, like "K.L.".'),
    "label_too_long": N_(
        "That label is a bit long. Please use initials or a short nickname (at most 20 "
        'characters), like "K.L.".'
    ),
    "label_full_name": N_(
        "That looks like a full name. To protect the citizen, please use initials or a "
        'nickname instead, like "K.L.".'
    ),
    "rhythm_incomplete": N_(
        "Please tell me when you meet: weekly or biweekly with a weekday and a time (like "
        "weekly tue 10:00), or once with a date and a time (like once {day} 10:00)."
    ),
    "rhythm_unknown": N_("I didn't understand the rhythm: use weekly, biweekly or once."),
    "date_in_past": N_("That date and time has already passed. Please choose a later one."),
    "date_too_far": N_("That date is too far ahead. Please choose a date until {last}."),
    "end_before_start": N_("The end date is before the start date."),
    "unknown_word": N_('I didn\'t understand "{word}".'),
    "unknown_person": N_(
        "I don't know {username} in the group yet. They need to be a member of the group."
    ),
}


NO_VOLUNTEERS = "no_volunteers"


class ParseError(ValueError):
    def __init__(self, code: str, **details: str) -> None:
        super().__init__(code)
        self.code, self.details = code, details


@dataclass
class Request:
    """A match or activity being put together, from one line or step by step."""

    kind: str
    usernames: list[str] = field(default_factory=list)
    person_ids: list[int] = field(default_factory=list)
    label: str = ""
    rhythm: str = ""
    weekday: int | None = None
    at: time | None = None
    dates: list[tuple[date, time]] = field(default_factory=list)
    place: str | None = None
    start: date | None = None
    end: date | None = None

    def plan(self) -> matches.Plan:
        return matches.Plan(
            rhythm=self.rhythm,
            weekday=self.weekday,
            at=self.at,
            start=self.start,
            end=self.end,
            dates=tuple(self.dates),
        )


RHYTHM_WORDS = {
    **dict.fromkeys(("weekly", "ugentlig", "ugentligt", "hver"), WEEKLY),
    **dict.fromkeys(("biweekly", "fortnightly", "hveranden", "14dage"), BIWEEKLY),
    **dict.fromkeys(("once", "date", "dato", "engang"), DATES),
}


# Danish phrases of more than one word, read as the one word the parser knows.
PHRASES = (
    (re.compile(r"\bhver\s+anden(\s+uge)?\b", re.IGNORECASE), "hveranden"),
    (re.compile(r"\bhver\s+uge\b", re.IGNORECASE), "ugentlig"),
    (re.compile(r"\ben\s+gang\b", re.IGNORECASE), "engang"),
    (re.compile(r"\btil\s+og\s+med\b", re.IGNORECASE), "til"),
)


def parse_line(text: str, kind: str, day: date) -> Request:
    """Read `@anna @bo "K.L." weekly tue 10:00 place "Café X" from 1.12 until 31.3` (or in
    Danish: `»K.L.« hver anden tirsdag 10.00 fra 1.12 til og med 31.3.2027`)."""
    for quote in ("“", "”", "„", "»", "«"):
        text = text.replace(quote, '"')
    for phrase, word in PHRASES:
        text = phrase.sub(word, text)
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise ParseError("unknown_word", word='"') from error
    request = Request(kind=kind)
    i = 0

    def take() -> str:
        nonlocal i
        if i >= len(words):
            raise ParseError("rhythm_incomplete")
        i += 1
        return words[i - 1]

    while i < len(words):
        word = take()
        lower = word.lower()
        if word.startswith("@"):
            request.usernames.append(word)
        elif lower in RHYTHM_WORDS:
            rhythm = RHYTHM_WORDS[lower]
            if rhythm == DATES:
                request.rhythm = DATES
                day_text, time_text = take(), take()
                moment = (parse_date(day_text, day), parse_time(time_text))
                if None in moment:
                    raise ParseError("rhythm_incomplete")
                request.dates.append(moment)  # type: ignore[arg-type]
            else:
                request.rhythm = rhythm
                request.weekday, request.at = parse_weekday(take()), parse_time(take())
                if request.weekday is None or request.at is None:
                    raise ParseError("rhythm_incomplete")
        elif lower in ("place", "sted"):
            request.place = take()
        elif lower in ("from", "fra"):
            request.start = parse_date(take(), day)
            if request.start is None:
                raise ParseError("rhythm_incomplete")
        elif lower in ("until", "til"):
            request.end = parse_date(take(), day)
            if request.end is None:
                raise ParseError("rhythm_incomplete")
        elif not request.label:
            request.label = word
        else:
            raise ParseError("unknown_word", word=word[:30])
    if not request.usernames:
        raise ParseError("no_volunteers")
    if not request.label:
        raise ParseError("label_missing")
    if not request.rhythm:
        raise ParseError("rhythm_incomplete")
    return request


def error_text(_: Translate, code: str, kind: str, day: date, **details: str) -> str:
    message = _(ERRORS.get(code, ERRORS["rhythm_incomplete"])).format(
        day=example_day(day + timedelta(days=8)),
        last=example_day(last_allowed_day(day)),
        **details,
    )
    return message + "\n\n" + _("For example:") + f"\n{example(_, kind, day)}"


# Creating and telling the volunteers -------------------------------------------------------


async def create_and_announce(update: Update, context: PeerContext, request: Request) -> bool:
    """Create the match or activity; tell its volunteers; confirm to the coordinator."""
    _ = texts_for(context, update)
    services = context.services
    now = services.clock.now()
    try:
        match = await matches.create_match(
            context.session,
            services.group_id,
            kind=request.kind,
            label=request.label,
            volunteer_ids=request.person_ids,
            plan=request.plan(),
            place=request.place,
            now=now,
            tz=services.tz,
        )
    except matches.MatchError as error:
        await reply(update, error_text(_, error.code, request.kind, today(context)))
        return False
    volunteers = await matches.active_volunteers_of(context.session, match.id)
    first = await matches.next_occurrences(context.session, match.id, now, limit=3)
    not_told = []
    for person in volunteers:
        others = [p.first_name for p in volunteers if p.id != person.id]
        pref = await matches.preference(context.session, services.group_id, person.id)
        text = announcement(context, match, person, others, [o.starts_at for o in first], pref)
        if not (await send_to_person(context, person, text)).sent:
            not_told.append(person.first_name)
    lines = [
        _("Done: {label} with {names}, {rhythm}.").format(
            label=match.label,
            names=names([p.first_name for p in volunteers], _),
            rhythm=rhythm_text(match, _, _lang(context, update)),
        )
    ]
    if first:
        lines.append(
            _("First meeting: {when}.").format(
                when=when(context, first[0].starts_at, _lang(context, update))
            )
        )
    for name in not_told:
        lines.append(
            _(
                "{name} hasn't started a chat with me yet, so I could not tell them. "
                "Please ask them to send me /start."
            ).format(name=name)
        )
    await reply(update, "\n".join(lines))
    log.info("match %s created (%s) with %s volunteer(s)", match.id, match.kind, len(volunteers))
    return True


def _lang(context: PeerContext, update: Update) -> str:
    from handlers.common import reply_language

    return reply_language(context, update)


def announcement(
    context: PeerContext,
    match: Match,
    person: Person,
    others: list[str],
    starts: list,
    pref: ReminderPreference,
) -> str:
    _ = context.texts(person.language)
    language = person.language
    if match.kind == "match":
        head = _("Hi {name}! You have been matched with {label}: {rhythm}.")
    else:
        head = _("Hi {name}! You are one of the volunteers for {label}: {rhythm}.")
    lines = [
        head.format(
            name=person.first_name, label=match.label, rhythm=rhythm_text(match, _, language)
        )
    ]
    if others:
        lines.append(_("Together with {names}.").format(names=names(others, _)))
    if match.place:
        lines.append(_("Place: {place}").format(place=match.place))
    if starts:
        lines += ["", _("The first meetings:")]
        lines += [f"• {when(context, s, language)}" for s in starts]
    lines += ["", reminder_promise(pref, _, language)]
    return "\n".join(lines)


def reminder_promise(pref: ReminderPreference, _: Translate, language: str) -> str:
    """What the volunteer's own reminder settings promise (see /settings)."""
    parts = []
    if pref.day_before:
        parts.append(
            _("the day before at {time}").format(time=clock(time(pref.day_before_hour), language))
        )
    if pref.hours_before:
        parts.append(
            ngettext(
                language, "{count} hour before", "{count} hours before", pref.hours_before_count
            ).format(count=pref.hours_before_count)
        )
    if parts:
        first = _("I will remind you {when}; you can change that under /settings.").format(
            when=names(parts, _)
        )
    else:
        first = _("Your meeting reminders are turned off; you can turn them on under /settings.")
    return first + " " + _("See, move or cancel your meetings with /meetings.")


async def resolve_people(context: PeerContext, usernames: list[str]) -> list[int]:
    found = []
    for username in usernames:
        person = await people.find_by_username(context.session, context.services.group_id, username)
        if person is None:
            raise ParseError("unknown_person", username=username[:33])
        found.append(person.id)
    return found
