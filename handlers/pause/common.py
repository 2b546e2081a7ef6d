"""What the pause feature's parts share: settings, texts and renderings, keyboards, telling
the coordinators, and the end of a pause."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError

from bot.context import PeerContext, Services
from bot.domain import away
from bot.domain import pause as pauses
from bot.domain.matches import PersonMatch
from bot.domain.typed_dates import example_day
from bot.i18n import N_, Translate, format_day, format_when, ngettext
from bot.sealing import derive_key
from handlers import conversation
from handlers.common import Button, CommandInfo, keyboard, reply
from handlers.matches_common import names as citizens_text  # "K.L. and M.N."
from handlers.pause_buttons import BUTTONS, PauseAction

if TYPE_CHECKING:
    from storage.models import Pause, Person


log = logging.getLogger(__name__)


COMMANDS = [
    CommandInfo("pause", N_("Take a pause (privately, no reason needed)"), "volunteer"),
    CommandInfo("resume", N_("Come back from your pause"), "volunteer"),
    CommandInfo("pausevolunteer", N_("Put a volunteer on a pause"), "coordinator"),
    CommandInfo("resumevolunteer", N_("End a volunteer's pause"), "coordinator"),
]


@dataclass(kw_only=True)
class PauseFlow(conversation.Flow):
    """A volunteer's `/pause` (mode "new") or "a little longer" (mode "extend"): what they
    chose so far. The note lives here, in memory only, until the pause starts."""

    step: Literal["scope", "length", "date", "cover", "note", "confirm"] = "length"
    mode: Literal["new", "extend"] = "new"
    until: date | None = None  # None: no end date yet
    citizens: list[str] = field(default_factory=list)  # labels of their matches
    cover_asked: bool = False
    wants_cover: bool = False
    note: str | None = None
    # Someone in several groups: from all of them (True) or the group in hand (False).
    everywhere: bool | None = None
    restart: ClassVar[str] = "/pause"


# Steps of the flow that wait for something typed (a date, or the message).
TYPED_STEPS = ("length", "date", "note")


LENGTH_LABELS = {
    pauses.Length.TWO_WEEKS: N_("2 weeks"),
    pauses.Length.ONE_MONTH: N_("1 month"),
    pauses.Length.THREE_MONTHS: N_("3 months"),
    pauses.Length.OPEN: N_("I don't know yet"),
}


# Button arguments.
DATE = "date"  # "Choose a date": the length is typed
COVER_YES = "yes"
COVER_SELF = "self"
NO_NOTE = "none"
LENGTHS = [length.value for length in pauses.Length]


# As far as we know Livslinien's published phone hours are every day 11-05; never say "open
# day and night". The association can replace the whole text (CRISIS_HELP_TEXT).
DEFAULT_CRISIS_HELP = N_("Livslinien: 70 201 201 (every day 11–05). In acute danger, call 112.")


def note_key(services: Services) -> bytes:
    """The key that seals the volunteer's note while it waits on the pause row."""
    return derive_key(services.settings.telegram_bot_token, "pause note")


def rhythm(services: Services) -> pauses.Rhythm:
    settings = services.settings
    return pauses.Rhythm(
        checkin_every=timedelta(weeks=settings.pause_checkin_weeks),
        open_ended_ask_after=timedelta(weeks=settings.pause_open_ended_ask_weeks),
    )


def crisis_help(context: PeerContext, _: Translate) -> str:
    configured = context.services.crisis_help_text.strip()
    return _("If things feel very hard right now, you can get help at once: {help}").format(
        help=configured or _(DEFAULT_CRISIS_HELP)
    )


def date_example(context: PeerContext) -> str:
    """A date a month from today (the app's clock), written the way people may type it."""
    today = pauses.local_day(context.services.clock.now(), context.services.tz)
    return example_day(today + timedelta(days=30))


def length_keyboard(
    _: Translate, action: PauseAction, *ids: object, with_date: bool = True, cancel: bool = False
) -> InlineKeyboardMarkup:
    """The durations as buttons `action(*ids, length)` (and `action(*ids, "date")` to type
    one; `cancel`: and "Not now")."""

    def button(length: pauses.Length) -> Button:
        return (_(LENGTH_LABELS[length]), BUTTONS.encode(action, *ids, length.value))

    short = (pauses.Length.TWO_WEEKS, pauses.Length.ONE_MONTH, pauses.Length.THREE_MONTHS)
    rows: list[Button | list[Button]] = [[button(n) for n in short], button(pauses.Length.OPEN)]
    if with_date:
        rows.append((_("Choose a date"), BUTTONS.encode(action, *ids, DATE)))
    if cancel:
        rows.append((_("Not now"), BUTTONS.encode(PauseAction.CANCEL)))
    return keyboard(*rows)


def until_text(context: PeerContext, until: datetime | None, language: str) -> str:
    _ = context.texts(language)
    if until is None:
        return _("no end date yet")
    return format_day(until, context.services.tz, language, now=context.services.clock.now())


def day_text(context: PeerContext, day: date | None, language: str) -> str:
    if day is None:
        _ = context.texts(language)
        return _("no end date yet")
    return until_text(context, pauses.at_local_hour(day, context.services.tz), language)


async def remove_keyboard(message: Message | Any) -> None:
    """Take the buttons off a message that has been answered (a second tap would confuse)."""
    if isinstance(message, Message) and message.reply_markup is not None:
        with contextlib.suppress(TelegramError):
            await message.edit_reply_markup(reply_markup=None)


def affected_lines(context: PeerContext, matches: list[PersonMatch], language: str) -> list[str]:
    _ = context.texts(language)
    lines = []
    for match in matches:
        if match.next_starts:
            when = ", ".join(
                format_when(s, context.services.tz, language, now=context.services.clock.now())
                for s in match.next_starts
            )
        else:
            when = _("no meetings planned in the coming weeks")
        lines.append(f"• {match.label}: {when}")
    return lines


def coordinator_notice(
    context: PeerContext,
    person: Person,
    pause: Pause,
    matches: list[PersonMatch],
    note: str | None,
    *,
    by_coordinator: bool = False,
    note_lost: bool = False,
) -> Any:
    """Renders the coordinator's one message about a new pause, in their language
    (`note_lost`: there was a message, but it could not be opened again)."""

    def render(_: Translate, language: str) -> str:
        name = person.first_name
        if by_coordinator:
            head = _("{name} is now on a pause, as you set it.").format(name=name)
        else:
            head = _("{name} has asked for a pause, starting today.").format(name=name)
        lines = [head]
        if pause.until is None:
            lines.append(_("For now with no end date."))
        else:
            lines.append(
                _("For now until and including {until}.").format(
                    until=until_text(context, pause.until, language)
                )
            )
        lines.append("")
        if matches:
            lines.append(_("Matches and meetings affected:"))
            lines += affected_lines(context, matches, language)
            if any(m.kind == "match" for m in matches):
                if pause.wants_cover:
                    lines.append(
                        _("{name} would like you to find a temporary volunteer.").format(name=name)
                    )
                else:
                    lines.append(
                        _("{name} will tell {citizens} themselves.").format(
                            name=name,
                            citizens=citizens_text(
                                [m.label for m in matches if m.kind == "match"], _
                            ),
                        )
                    )
        else:
            lines.append(_("{name} has no matches right now.").format(name=name))
        if not by_coordinator:
            lines.append("")
            if note:
                lines.append(_("Message from {name}:").format(name=name))
                lines.append(note)
            elif note_lost:
                lines.append(
                    _(
                        "{name} wrote you a message, but I could not read it back after a "
                        "restart. Perhaps ask {name}?"
                    ).format(name=name)
                )
            else:
                lines.append(_("No message from {name}.").format(name=name))
        lines += [
            "",
            ngettext(
                language,
                "I will remind you every week to check in with {name}.",
                "I will remind you every {weeks} weeks to check in with {name}.",
                context.services.settings.pause_checkin_weeks,
            ).format(weeks=context.services.settings.pause_checkin_weeks, name=name),
        ]
        return "\n".join(lines)

    return render


async def announce_end(context: PeerContext, person: Person, pause: Pause) -> None:
    """The pause has ended (the coordinators' notice, when the volunteer ended it, was
    enqueued with the end): listeners may write to the volunteer now."""
    services = context.services
    log.info("pause %s ended for person %s", pause.id, person.id)
    await services.emit("pause_ended", context, person=person, pause=pause)


async def stand_ins(context: PeerContext, person: Person) -> tuple[str | None, str | None]:
    """While a coordinator is away: who reads what this volunteer tells the coordinator
    (first names; never the volunteer, whose own pause waits for the coordinator), and the
    last day away, written out; (None, None) otherwise."""
    language = person.language
    services = context.services
    standing_in = await away.running_stand_ins(
        context.session, services.group_id, services.coordinator_ids, services.clock.now()
    )
    standing_in = [(p, period) for p, period in standing_in if p.id != person.id]
    if not standing_in:
        return None, None
    names = citizens_text([p.first_name for p, _period in standing_in], context.texts(language))
    back = max(away.last_day(period, services.tz) for _person, period in standing_in)
    return names, day_text(context, back, language)


def started_text(
    context: PeerContext,
    _: Translate,
    told: bool,
    until: str | None,
    *,
    stand_in: str | None = None,
    waits_until: str | None = None,
) -> str:
    """What a volunteer reads once her pause has started (`told`: the coordinator has it;
    `stand_in`: who read it instead while the coordinator is away; `waits_until`: it waits
    for the coordinator, back after that day)."""
    lines = [_("Your pause has started. Take good care of yourself.")]
    if waits_until is not None:
        lines.append(
            _(
                "I will tell the coordinator when they are back after {day}. Nobody else is told."
            ).format(day=waits_until)
        )
    elif told and stand_in is not None:
        lines.append(
            _("I have told {name}, who stands in for the coordinator.").format(name=stand_in)
        )
    else:
        lines.append(
            _("I have told the coordinator.")
            if told
            else _(
                "I couldn't reach the coordinator just now; if you feel up to it, you can tell "
                "them yourself."
            )
        )
    lines.append(_("While you are on a pause, I won't send you reminders."))
    lines += [when_ready(_, until), "", crisis_help(context, _)]
    return "\n".join(lines)


def when_ready(_: Translate, until: str | None) -> str:
    """How a pause ends: /resume, or the bot asks on the end day (in a few weeks)."""
    if until is None:
        return _(
            "When you are ready, just write /resume. Otherwise I will write to you in a few "
            "weeks to hear how you are."
        )
    return _(
        "When you are ready, just write /resume. Otherwise I will write to you on {day} to "
        "hear how you are."
    ).format(day=until)


def volunteer_paused_text(context: PeerContext, person: Person, pause: Pause) -> str:
    """What a volunteer reads when the coordinator has paused them."""
    _ = context.texts(person.language)
    until = until_text(context, pause.until, person.language) if pause.until else None
    return "\n".join(
        [
            _(
                "Hi {name}. Your pause is now registered, as you and the coordinator agreed. "
                "Take good care of yourself."
            ).format(name=person.first_name),
            _("While you are on a pause, I won't send you reminders."),
            when_ready(_, until),
        ]
    )


def couldnt_tell(context: PeerContext, person: Person, language: str) -> str:
    _ = context.texts(language)
    return _(
        "I couldn't write to {name} privately ({name} hasn't started a chat with me yet, or "
        "has blocked me), so please tell {name} yourself."
    ).format(name=person.first_name)


async def ask_length(update: Update, context: PeerContext, person: Person) -> None:
    """Warm words, the crisis help, and how long."""
    _ = context.texts(person.language)
    text = "\n\n".join(
        [
            _(
                "It is completely all right to take a pause. You don't need to explain "
                "anything, and your place in the group is here when you are ready."
            ),
            _(
                "For how long, roughly? You can always change it later. You can also just "
                "write a date, e.g. {example}."
            ).format(example=date_example(context)),
            crisis_help(context, _),
        ]
    )
    await reply(update, text, reply_markup=length_keyboard(_, PauseAction.LENGTH, cancel=True))
