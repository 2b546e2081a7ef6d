"""`/away <from> <to> @stand_in`: the coordinator's time away and the stand-in meanwhile.

Set with a confirmation button (a single-use token naming the stand-in; the days ride on
the button and are read again); `/away` alone shows the period and lets the coordinator end
it early. Who gets what and who may do what is decided in `bot.domain.away`; this module
only asks and answers, and renders the summary the outbox sends at the period's end. The
group is told nothing.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import PeerContext, Services
from bot.domain import away, confirmations, people, rows
from bot.domain import pause as pauses
from bot.domain.localtime import local_to_utc, local_today
from bot.domain.typed_dates import example_day, last_allowed_day
from bot.i18n import N_, Translate, format_day, ngettext
from handlers.callbacks import (
    STALE,
    TOKEN,
    Callbacks,
    Invalid,
    Who,
    offer_confirmation,
    take_confirmation,
)
from handlers.common import (
    CommandInfo,
    is_coordinator,
    keyboard,
    private_only,
    reply,
    texts_for,
)
from handlers.delivery import Outgoing, register_kind, send_private, start_sending
from handlers.matches_cover_ask import BUTTONS as COVER_BUTTONS
from handlers.matches_cover_ask import CoverAction, suggestion_offer

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.domain.outbox import Claim
    from storage.models import Person
    from storage.models.away import CoordinatorAway

log = logging.getLogger(__name__)

COMMANDS = [
    CommandInfo(
        "away", N_("Away for a while: who stands in for you"), "coordinator", stand_in=False
    ),
]


class Action(StrEnum):
    SET = "set"
    END = "end"
    CANCEL = "no"


BUTTONS: Callbacks[Action] = Callbacks("away", Action)
SELF_DATA = COVER_BUTTONS.encode(CoverAction.SELF)


def DAY(raw: str) -> date:
    """A day on a button: yyyymmdd."""
    if len(raw) != 8 or not raw.isascii() or not raw.isdigit():
        raise Invalid(raw)
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError as error:
        raise Invalid(raw) from error


def _day_arg(day: date) -> str:
    return day.strftime("%Y%m%d")


USAGE = N_(
    "Write /away with your first and last day away and who stands in for you, e.g. "
    "/away {first} {last} @name. Your stand-in may be another coordinator or a volunteer "
    "you trust who has started a chat with me."
)


def _day_text(context: PeerContext, day: date, language: str) -> str:
    moment = local_to_utc(day, datetime.min.time(), context.services.tz)
    return format_day(moment, context.services.tz, language, now=context.services.clock.now())


def _usage(context: PeerContext, _: Translate) -> str:
    today = local_today(context.services.clock.now(), context.services.tz)
    first = date.fromordinal(today.toordinal() + 14)
    last = date.fromordinal(first.toordinal() + 14)
    return _(USAGE).format(first=example_day(first), last=example_day(last))


PROBLEMS = {
    away.PeriodProblem.IN_THE_PAST: N_("The days must be today or later."),
    away.PeriodProblem.BACKWARDS: N_(
        "The last day comes before the first. Please write the first day first."
    ),
    away.PeriodProblem.TOO_LONG: N_("At most a year at a time, please."),
    away.PeriodProblem.TOO_FAR: N_("Please choose days from today until {last}."),
}


@private_only
async def away_command(update: Update, context: PeerContext) -> None:
    """`/away` (show, end early) or `/away <from> <to> @stand_in` (set, after a button)."""
    _ = texts_for(context, update)
    user = update.effective_user
    message = update.effective_message
    assert user is not None and message is not None
    if not is_coordinator(context, update):
        await reply(update, _("Sorry, only the coordinator can use that command."))
        return
    services = context.services
    now = services.clock.now()
    me = await people.find_person(context.session, services.group_id, user.id)
    words = (message.text or "").split()[1:]
    if not words:
        await show_period(update, context, me, _)
        return
    if len(words) != 3 or not words[2].startswith("@"):
        await reply(update, _usage(context, _))
        return
    today = local_today(now, services.tz)
    days = away.parse_period(words[0], words[1], today)
    if days is away.PeriodProblem.UNREADABLE:
        await reply(update, _usage(context, _))
        return
    if isinstance(days, away.PeriodProblem):
        await reply(update, _(PROBLEMS[days]).format(last=example_day(last_allowed_day(today))))
        return
    stand_in = await people.find_by_username(context.session, services.group_id, words[2])
    if stand_in is None or not stand_in.reachable:
        await reply(
            update,
            _(
                "I can't find {username} among the people in the group I can write to. Your "
                "stand-in must be in the group, and I must be able to write to them."
            ).format(username=words[2][:33]),
        )
        return
    if stand_in.telegram_user_id == user.id:
        await reply(update, _("You can't be your own stand-in. Please choose someone else."))
        return
    if me is not None and await away.current_or_planned(
        context.session, services.group_id, me.id, now
    ):
        await reply(update, already_text(_))
        return
    token = await offer_confirmation(
        update, context, confirmations.Kind.AWAY, person_id=stand_in.id
    )
    language = me.language if me else services.language
    first, last = _day_text(context, days[0], language), _day_text(context, days[1], language)
    text = "\n\n".join(
        [
            _(
                "While you are away from {first} until and including {last}, {name} stands "
                "in for you: {name} gets what I would tell you (pauses, check-ins, cover, "
                "volunteer meetings) and can do what you do every day, but cannot see or "
                "delete anyone's data."
            ).format(first=first, last=last, name=stand_in.first_name),
            _("The group is told nothing. Shall I set it up?"),
        ]
    )
    set_up = BUTTONS.encode(Action.SET, token, _day_arg(days[0]), _day_arg(days[1]))
    buttons = keyboard((_("Yes, set it up"), set_up), (_("Cancel"), BUTTONS.encode(Action.CANCEL)))
    await reply(update, text, reply_markup=buttons)


def already_text(_: Translate) -> str:
    return _("You already have a time away planned. Write /away to see it, or to end it first.")


async def show_period(
    update: Update, context: PeerContext, me: Person | None, _: Translate
) -> None:
    services = context.services
    now = services.clock.now()
    period = (
        await away.current_or_planned(context.session, services.group_id, me.id, now)
        if me is not None
        else None
    )
    if period is None:
        await reply(update, _("You have no time away planned.") + "\n\n" + _usage(context, _))
        return
    language = me.language
    stand_in = await rows.find_person(context.session, period.stand_in_id)
    name = stand_in.first_name if stand_in is not None else "?"
    first = _day_text(context, away.first_day(period, services.tz), language)
    last = _day_text(context, away.last_day(period, services.tz), language)
    running = period.starts_at <= now
    if running:
        text = _("{name} stands in for you until and including {last}.").format(
            name=name, last=last
        )
        label = _("I'm back: end it now")
    else:
        text = _("{name} will stand in for you from {first} until and including {last}.").format(
            name=name, first=first, last=last
        )
        label = _("Call it off")
    token = await offer_confirmation(
        update, context, confirmations.Kind.AWAY_END, subject_id=period.id
    )
    await reply(update, text, reply_markup=keyboard((label, BUTTONS.encode(Action.END, token))))


async def _edit(update: Update, text: str) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(text)


@BUTTONS.route(Action.CANCEL, who=Who.COORDINATOR)
async def on_cancel(update: Update, context: PeerContext) -> None:
    _ = texts_for(context, update)
    await _edit(update, _("All right, nothing has changed."))


@BUTTONS.route(Action.SET, TOKEN, DAY, DAY, who=Who.COORDINATOR)
async def on_set(update: Update, context: PeerContext, token: str, first: date, last: date) -> None:
    """The coordinator confirmed: the period is stored, the stand-in is told (best effort),
    and the summary is promised for its end. The group is told nothing."""
    # Only a coordinator sets a period, never a stand-in acting as one.
    _ = texts_for(context, update)
    if not is_coordinator(context, update):
        await _edit(update, _("Sorry, only the coordinator can use that command."))
        return
    pending = await take_confirmation(update, context, token, confirmations.Kind.AWAY)
    if pending is None or pending.subject_person_id is None:
        return
    services = context.services
    now = services.clock.now()
    user = update.effective_user
    assert user is not None
    days = away.parse_period(example_day(first), example_day(last), local_today(now, services.tz))
    stand_in = await people.member_by_id(
        context.session, services.group_id, pending.subject_person_id
    )
    me = await people.find_person(context.session, services.group_id, user.id)
    if isinstance(days, away.PeriodProblem) or stand_in is None or me is None:
        await _edit(update, _(STALE))
        return
    try:
        period = await away.set_away(
            context.session, services.group_id, me.id, stand_in.id, days, services.tz, now
        )
    except away.Overlaps:
        await _edit(update, already_text(_))
        return
    log.info("away %s set: person %s stands in for person %s", period.id, stand_in.id, me.id)
    first_text = _day_text(context, days[0], me.language)
    last_text = _day_text(context, days[1], me.language)
    await _edit(
        update,
        "\n".join(
            [
                _("It is all set."),
                _(
                    "{name} is your stand-in from {first} until and including {last}. When "
                    "you are back, I will send you a short summary. Write /away to see it "
                    "or to end it early."
                ).format(name=stand_in.first_name, first=first_text, last=last_text),
            ]
        ),
    )
    told = await send_private(
        context.bot, stand_in.telegram_user_id, stand_in_text(context, stand_in, me, days)
    )
    if not told.sent:
        log.warning("away %s: the stand-in was not told", period.id)


def stand_in_text(
    context: PeerContext, stand_in: Person, coordinator: Person, days: tuple[date, date]
) -> str:
    """What the stand-in reads, in their own language."""
    language = stand_in.language
    _ = context.texts(language)
    return _(
        "Hi {name}. {coordinator} is away from {first} until and including {last} and has "
        "asked you to stand in. Meanwhile I will send you what I would tell the "
        "coordinator. Thank you!"
    ).format(
        name=stand_in.first_name,
        coordinator=coordinator.first_name,
        first=_day_text(context, days[0], language),
        last=_day_text(context, days[1], language),
    )


@BUTTONS.route(Action.END, TOKEN, who=Who.COORDINATOR)
async def on_end(update: Update, context: PeerContext, token: str) -> None:
    _ = texts_for(context, update)
    if not is_coordinator(context, update):
        await _edit(update, _("Sorry, only the coordinator can use that command."))
        return
    pending = await take_confirmation(update, context, token, confirmations.Kind.AWAY_END)
    if pending is None or pending.subject_id is None:
        return
    services = context.services
    now = services.clock.now()
    period = await away.find(context.session, pending.subject_id)
    if period is None or away.effective_end(period) <= now:
        await _edit(update, _("That time away is already over."))
        return
    started = period.starts_at <= now
    await away.end_early(context.session, period, now)
    log.info("away %s ended early", period.id)
    if started:
        await _edit(
            update, _("Welcome back! Your stand-in's time is over; a short summary follows.")
        )
        application = context.application
        context.after_commit(lambda: start_sending(application))
    else:
        await _edit(update, _("Called off. Nothing has changed for anyone."))


# The summary at the end -------------------------------------------------------------------


def summary_text(context: PeerContext, summary: away.Summary, _: Translate, language: str) -> str:
    """Counts, and names only where the coordinator has something to do."""
    first = _day_text(context, summary.first_day, language)
    last = _day_text(context, summary.last_day, language)
    name = summary.stand_in or _("your stand-in")
    lines = [
        _("Welcome back! While you were away ({first} to {last}), {name} stood in for you.").format(
            first=first, last=last, name=name
        ),
        "",
        ngettext(
            language,
            "{count} message about pauses went to {name}.",
            "{count} messages about pauses went to {name}.",
            summary.passed_on,
        ).format(count=summary.passed_on, name=name),
        _("New pauses: {started}. Came back from a pause: {ended}.").format(
            started=summary.pauses_started, ended=summary.pauses_ended
        ),
    ]
    if summary.waited:
        lines.append(
            _("Waited for you with their pause (their message comes to you now): {names}").format(
                names=", ".join(summary.waited)
            )
        )
    if summary.still_paused:
        lines.append(
            _("On a pause since then: {names}. Perhaps check in and hear how things are?").format(
                names=", ".join(summary.still_paused)
            )
        )
    if summary.want_to_talk:
        lines.append(
            _("Would like to talk with you about their pause: {names}").format(
                names=", ".join(summary.want_to_talk)
            )
        )
    lines += ["", _("See with /matches whether a match needs a temporary volunteer.")]
    return "\n".join(lines)


async def prepare_summary(
    context: PeerContext, session: AsyncSession, claim: Claim, now: datetime
) -> Outgoing | None:
    """The coordinator's summary, once the period is over; not wanted when it was called
    off before it began, or when the coordinator is gone."""
    services = context.services
    period: CoordinatorAway | None = await away.find(session, claim.subject_id)
    if period is None or claim.person_id is None:
        return None
    if away.effective_end(period) <= period.starts_at:
        return None  # called off before it began
    coordinator = await people.member_by_id(session, services.group_id, claim.person_id)
    if coordinator is None:
        return None
    summary = await away.summary(session, period, services.tz)
    language = coordinator.language or services.language
    text = summary_text(context, summary, context.texts(language), language)
    # What is still open comes back with the coordinator: the cover still wanted, with
    # the suggestions as buttons (a stand-in's late tap on theirs says so).
    lines: list[str] = []
    button_rows: list[list[InlineKeyboardButton]] = []
    for pause_id in summary.open_pauses:
        pause = await pauses.find_pause(session, pause_id)
        if pause is None:
            continue
        found, markup = await suggestion_offer(context, session, coordinator, pause, now, language)
        lines += ["", *found] if found else []
        if markup is not None:
            button_rows += [row for row in markup.inline_keyboard if row not in button_rows]
    if not button_rows:
        return Outgoing(coordinator.telegram_user_id, "\n".join([text, *lines]))
    # "I'll find someone myself" once, last.
    button_rows.sort(key=lambda row: row[0].callback_data == SELF_DATA)
    return Outgoing(
        coordinator.telegram_user_id,
        "\n".join([text, *lines]),
        InlineKeyboardMarkup(button_rows),
    )


def register(application: Application, services: Services) -> None:
    register_kind(application, away.SUMMARY, prepare_summary)
    application.add_handler(CommandHandler("away", away_command))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
