"""`/pause`: a private, kind way to ask for a break, which tells the coordinator and keeps in
touch. Also `/resume`, the coordinator's `/pausevolunteer` and `/resumevolunteer`, and the
scheduled check-ins.

The flow is a small state machine in `user_data["pause_flow"]` (memory only) driven by
buttons "pause:..." and, where asked, a typed date or message. The message to the
coordinator is passed on and never stored: it only lives in that in-memory state until it is
sent, and the state is cleared right after.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.ext.filters import MessageFilter

from bot.context import PeerContext, Services
from bot.domain import confirmations, people, rows
from bot.domain import pause as pauses
from bot.domain.matches import PersonMatch, matches_for_person
from bot.i18n import N_, Translate, format_day, format_when
from handlers.callbacks import TOKEN, Who, choice, take_confirmation
from handlers.common import (
    NOT_REGISTERED,
    CommandInfo,
    coordinator_only,
    current_person,
    deep_link,
    language_of,
    private_only,
    reply,
    texts_for,
)
from handlers.delivery import send_private, send_to_person
from handlers.pause_buttons import BUTTONS, PauseAction
from handlers.start import register_from_private_chat

if TYPE_CHECKING:
    from storage.models import Pause, Person

log = logging.getLogger(__name__)

COMMANDS = [
    CommandInfo("pause", N_("Take a pause (privately, no reason needed)"), "volunteer"),
    CommandInfo("resume", N_("Come back from your pause"), "volunteer"),
    CommandInfo("pausevolunteer", N_("Put a volunteer on a pause"), "coordinator"),
    CommandInfo("resumevolunteer", N_("End a volunteer's pause"), "coordinator"),
]

FLOW = "pause_flow"
# An unfinished flow (and any message typed in it) is forgotten after this long.
FLOW_LIFETIME = timedelta(hours=2)
# Steps of the flow that wait for something typed (a date, or the message).
TYPED_STEPS = {"length", "date", "note"}
LENGTH_LABELS = {
    pauses.Length.TWO_WEEKS: N_("2 weeks"),
    pauses.Length.ONE_MONTH: N_("1 month"),
    pauses.Length.THREE_MONTHS: N_("3 months"),
    pauses.Length.OPEN: N_("I don't know yet"),
}
# Button arguments.
DATE = "date"  # "Choose a date": the length is typed
COVER_YES, COVER_SELF = "yes", "self"
NO_NOTE = "none"
LENGTHS = [length.value for length in pauses.Length]
DEFAULT_CRISIS_HELP = N_("Livslinien 70 201 201 (open day and night). In acute danger, call 112.")


# Small helpers -------------------------------------------------------------------------------


def rhythm(services: Services) -> pauses.Rhythm:
    settings = services.settings
    return pauses.Rhythm(
        checkin_every=timedelta(weeks=settings.pause_checkin_weeks),
        open_ended_ask_after=timedelta(weeks=settings.pause_open_ended_ask_weeks),
    )


def crisis_help(context: PeerContext, _: Translate) -> str:
    configured = context.services.settings.crisis_help_text.strip()
    return _("If things feel very hard right now, you can get help at once: {help}").format(
        help=configured or _(DEFAULT_CRISIS_HELP)
    )


def date_example(context: PeerContext) -> str:
    today = pauses.local_day(context.services.clock.now(), context.services.tz)
    return (today + timedelta(days=30)).strftime("%d-%m-%Y")


def length_keyboard(
    _: Translate, action: PauseAction, *ids: object, with_date: bool = True
) -> InlineKeyboardMarkup:
    """The durations as buttons `action(*ids, length)` (and `action(*ids, "date")` to type
    one)."""

    def button(length: pauses.Length) -> InlineKeyboardButton:
        data = BUTTONS.encode(action, *ids, length.value)
        return InlineKeyboardButton(_(LENGTH_LABELS[length]), callback_data=data)

    short = (pauses.Length.TWO_WEEKS, pauses.Length.ONE_MONTH, pauses.Length.THREE_MONTHS)
    rows = [[button(length) for length in short], [button(pauses.Length.OPEN)]]
    if with_date:
        data = BUTTONS.encode(action, *ids, DATE)
        rows.append([InlineKeyboardButton(_("Choose a date"), callback_data=data)])
    return InlineKeyboardMarkup(rows)


def until_text(context: PeerContext, until: datetime | None, language: str) -> str:
    _ = context.texts(language)
    if until is None:
        return _("no end date yet")
    return format_day(until, context.services.tz, language, now=context.services.clock.now())


def day_text(context: PeerContext, day: date | None, language: str) -> str:
    if day is None:
        return context.texts(language)("no end date yet")
    return until_text(context, pauses.at_local_hour(day, context.services.tz), language)


async def coordinator_language(context: PeerContext, session: Any, user_id: int) -> str:
    person = await people.find_person(session, context.services.group_id, user_id)
    return person.language if person is not None else context.services.settings.language


async def tell_coordinators(context: PeerContext, session: Any, render: Any, **kwargs: Any) -> int:
    """Send each coordinator their own-language text from `render(_, language)`; returns how
    many got it."""
    delivered = 0
    for user_id in context.services.settings.coordinator_ids:
        language = await coordinator_language(context, session, user_id)
        text = render(context.texts(language), language)
        delivery = await send_private(context.bot, user_id, text, **kwargs)
        delivered += delivery.sent
    return delivered


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


# Starting the flow ---------------------------------------------------------------------------


async def begin(update: Update, context: PeerContext, person: Person) -> None:
    """First step: warm words, the crisis help, and how long."""
    _ = context.texts(person.language)
    now = context.services.clock.now()
    running = await people.current_pause(context.session, person.id, now)
    if running is not None:
        context.user_data.pop(FLOW, None)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("A little longer"), callback_data=BUTTONS.encode(PauseAction.MORE)
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("Yes, I'm back"), callback_data=BUTTONS.encode(PauseAction.BACK)
                    )
                ],
            ]
        )
        await reply(
            update,
            _(
                "You are already on a pause ({until}). Would you like to change the date, "
                "or are you ready to come back? Both are completely fine."
            ).format(until=until_text(context, running.until, person.language)),
            reply_markup=keyboard,
        )
        return
    context.user_data[FLOW] = {"mode": "new", "step": "length", "since": now}
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
    keyboard = length_keyboard(_, PauseAction.LENGTH)
    rows = [
        *keyboard.inline_keyboard,
        [InlineKeyboardButton(_("Not now"), callback_data=BUTTONS.encode(PauseAction.CANCEL))],
    ]
    await reply(update, text, reply_markup=InlineKeyboardMarkup(rows))


@private_only
async def pause_command(update: Update, context: PeerContext) -> None:
    """`/pause` in private (the group variant is `pause_in_group`)."""
    person = await current_person(context, update)
    if person is None or not person.started_bot:
        person = await register_from_private_chat(update, context)
        if person is None:
            return
    await begin(update, context, person)


async def pause_in_group(update: Update, context: PeerContext) -> None:
    """`/pause` written in the group: never echoed. Delete it if we may, and answer only
    with a neutral invitation to the private chat (the link opens the pause flow)."""
    await talk_privately_instead(update, context, "pause")


async def resume_in_group(update: Update, context: PeerContext) -> None:
    """`/resume`, `/pausevolunteer @anna`, `/resumevolunteer @anna` in the group would tell
    everyone about a pause: removed and answered like `/pause`."""
    await talk_privately_instead(update, context, "")


async def talk_privately_instead(update: Update, context: PeerContext, payload: str) -> None:
    message = update.effective_message
    assert message is not None
    _ = texts_for(context, update)
    deleted = False
    try:
        deleted = await message.delete()
    except BadRequest:
        deleted = False
    except TelegramError as error:
        log.warning("could not delete a group message: %s", type(error).__name__)
    text = _("Let's talk privately. Tap the button to open our private chat.")
    if not deleted:
        text += "\n" + _("You are welcome to delete your message here in the group.")
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton(_("Open a private chat"), url=deep_link(context, payload))]]
    )
    await reply(update, text, reply_markup=markup)


async def start_pause_link(update: Update, context: PeerContext) -> None:
    """`/start pause` from the deep link: register like /start, then open the flow."""
    person = await register_from_private_chat(update, context)
    if person is not None:
        await begin(update, context, person)


# The flow's steps ----------------------------------------------------------------------------


async def ask_for_date(update: Update, context: PeerContext, _: Translate) -> None:
    await reply(
        update,
        _("Which date are you thinking of? Write it like {example} (day-month-year).").format(
            example=date_example(context)
        ),
    )


async def length_chosen(
    update: Update, context: PeerContext, person: Person, until_day: date | None
) -> None:
    """A duration is known: go on (new pause) or apply it (a little longer)."""
    flow = context.user_data.get(FLOW) or {}
    if flow.get("mode") == "extend":
        await extend(update, context, person, until_day)
        return
    flow["until"] = until_day.isoformat() if until_day else None
    _ = context.texts(person.language)
    now = context.services.clock.now()
    matches = await matches_for_person(context.session, context.services.group_id, person.id, now)
    citizens = [m.label for m in matches if m.kind == "match"]
    if citizens:
        flow["step"] = "cover"
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("Please find a temporary volunteer"),
                        callback_data=BUTTONS.encode(PauseAction.COVER, COVER_YES),
                    )
                ],
                [
                    InlineKeyboardButton(
                        _("I'll tell my citizen myself"),
                        callback_data=BUTTONS.encode(PauseAction.COVER, COVER_SELF),
                    )
                ],
            ]
        )
        await reply(
            update,
            _(
                "You are matched with: {citizens}. While you are on a pause, should the "
                "coordinator find a temporary volunteer, or would you rather tell your "
                "citizen yourself?"
            ).format(citizens=", ".join(citizens)),
            reply_markup=keyboard,
        )
        return
    flow["wants_cover"] = False
    await ask_for_note(update, context, person)


async def ask_for_note(update: Update, context: PeerContext, person: Person) -> None:
    flow = context.user_data.get(FLOW) or {}
    flow["step"] = "note"
    _ = context.texts(person.language)
    await reply(
        update,
        _(
            "Would you like to send a few words to the coordinator? Just write them here. "
            "They are passed on and not saved."
        ),
        reply_markup=InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        _("No message"), callback_data=BUTTONS.encode(PauseAction.NOTE, NO_NOTE)
                    )
                ]
            ]
        ),
    )


async def show_summary(update: Update, context: PeerContext, person: Person) -> None:
    flow = context.user_data.get(FLOW) or {}
    flow["step"] = "confirm"
    _ = context.texts(person.language)
    until_day = date.fromisoformat(flow["until"]) if flow.get("until") else None
    lines = [_("Here is what I will do:")]
    if until_day is None:
        lines.append("• " + _("A pause from today, with no end date yet."))
    else:
        lines.append(
            "• "
            + _("A pause from today until {until}.").format(
                until=day_text(context, until_day, person.language)
            )
        )
    if flow.get("cover_asked"):
        if flow.get("wants_cover"):
            lines.append("• " + _("The coordinator finds a temporary volunteer for your citizen."))
        else:
            lines.append("• " + _("You tell your citizen yourself."))
    note = flow.get("note")
    if note:
        lines.append("• " + _("Your message to the coordinator: «{message}»").format(message=note))
    else:
        lines.append("• " + _("No message to the coordinator."))
    lines += ["", _("Shall I go ahead?")]
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, start my pause"), callback_data=BUTTONS.encode(PauseAction.CONFIRM)
                )
            ],
            [InlineKeyboardButton(_("Not now"), callback_data=BUTTONS.encode(PauseAction.CANCEL))],
        ]
    )
    await reply(update, "\n".join(lines), reply_markup=keyboard)


def coordinator_notice(
    context: PeerContext,
    person: Person,
    pause: Pause,
    matches: list[PersonMatch],
    note: str | None,
    *,
    by_coordinator: bool = False,
) -> Any:
    """Renders the coordinator's one message about a new pause, in their language."""

    def render(_: Translate, language: str) -> str:
        name = person.first_name
        if by_coordinator:
            head = _("{name} is now on a pause, as you set it.").format(name=name)
        else:
            head = _("{name} has asked for a pause, starting today.").format(name=name)
        lines = [head]
        if pause.until is None:
            lines.append(_('Planned until: no end date yet ("I don\'t know yet").'))
        else:
            lines.append(
                _("Planned until: {until}.").format(
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
                    lines.append(_("{name} will tell their citizen themselves.").format(name=name))
        else:
            lines.append(_("{name} has no matches right now.").format(name=name))
        if not by_coordinator:
            lines.append("")
            if note:
                lines.append(_("Message from {name}:").format(name=name))
                lines.append(note)
            else:
                lines.append(_("No message from {name}.").format(name=name))
        lines += [
            "",
            _("I will remind you every {weeks} weeks to check in with {name}.").format(
                weeks=context.services.settings.pause_checkin_weeks, name=name
            ),
        ]
        return "\n".join(lines)

    return render


async def confirm(update: Update, context: PeerContext, person: Person) -> None:
    """Start the pause, tell the coordinator once, and forget the message."""
    flow = context.user_data.pop(FLOW, None) or {}
    note = flow.pop("note", None)
    until_day = date.fromisoformat(flow["until"]) if flow.get("until") else None
    wants_cover = bool(flow.get("wants_cover"))
    flow.clear()
    services = context.services
    now = services.clock.now()
    _ = context.texts(person.language)
    try:
        pause = await pauses.start_pause(
            context.session,
            services.group_id,
            person.id,
            now,
            until_day=until_day,
            wants_cover=wants_cover,
            rhythm=rhythm(services),
            tz=services.tz,
        )
    except pauses.AlreadyPaused:
        await reply(update, _("You are already on a pause. Take good care of yourself."))
        return
    matches = await matches_for_person(
        context.session,
        services.group_id,
        person.id,
        now,
        horizon=pauses.affected_horizon(now, pause.until, services.tz),
    )
    delivered = await tell_coordinators(
        context, context.session, coordinator_notice(context, person, pause, matches, note)
    )
    del note  # passed on; nothing keeps it
    log.info("pause %s started for person %s", pause.id, person.id)
    await services.emit("pause_started", context, person=person, pause=pause)
    lines = [_("Your pause has started. Take good care of yourself.")]
    lines.append(
        _("I have told the coordinator.")
        if delivered
        else _(
            "I couldn't reach the coordinator in private just now, so please tell them "
            "yourself when it suits you."
        )
    )
    lines.append(_("While you are on a pause, I won't send you reminders."))
    if pause.until is None:
        lines.append(
            _(
                "When you are ready, just write /resume. Otherwise I will ask you gently in a few "
                "weeks how you are."
            )
        )
    else:
        lines.append(
            _(
                "When you are ready, just write /resume. Otherwise I will ask you gently on {day}."
            ).format(day=until_text(context, pause.until, person.language))
        )
    lines += ["", crisis_help(context, _)]
    # With retries and never raising: the coordinator has been told, so a 502 here must not
    # roll the pause back (a second confirmation told the coordinator twice).
    delivery = await send_private(context.bot, person.telegram_user_id, "\n".join(lines))
    if not delivery.sent:
        log.warning("pause %s: the confirmation did not reach the volunteer", pause.id)


async def extend(
    update: Update, context: PeerContext, person: Person, until_day: date | None
) -> None:
    """ "A little longer": a new planned date, and the coordinator is told."""
    context.user_data.pop(FLOW, None)
    services = context.services
    _ = context.texts(person.language)
    try:
        pause = await pauses.extend_pause(
            context.session,
            person.id,
            services.clock.now(),
            until_day=until_day,
            rhythm=rhythm(services),
            tz=services.tz,
        )
    except pauses.NotPaused:
        await reply(update, _("You are not on a pause right now."))
        return

    def render(_: Translate, language: str) -> str:
        if pause.until is None:
            return _("{name} would like a little longer pause, with no end date yet.").format(
                name=person.first_name
            )
        return _("{name} would like a little longer pause, now until {until}.").format(
            name=person.first_name, until=until_text(context, pause.until, language)
        )

    await tell_coordinators(context, context.session, render)
    if pause.until is None:
        text = _(
            "That is completely fine. Your pause goes on, and I will ask you again in a few weeks."
        )
    else:
        text = _("That is completely fine. Your pause now runs until {until}.").format(
            until=until_text(context, pause.until, person.language)
        )
    await reply(update, text)


async def come_back(update: Update, context: PeerContext, person: Person) -> None:
    """End the pause (from /resume or "Yes, I'm back")."""
    context.user_data.pop(FLOW, None)
    services = context.services
    _ = context.texts(person.language)
    try:
        pause = await pauses.end_pause(context.session, person.id, services.clock.now())
    except pauses.NotPaused:
        await reply(update, _("You are not on a pause right now."))
        return
    await reply(
        update,
        _(
            "Welcome back, {name}! It is good to have you here again. I have told the "
            "coordinator, and your reminders start again."
        ).format(name=person.first_name),
    )
    # After the welcome: listeners may write to them too (e.g. minutes that waited).
    await announce_end(context, person, pause, by_coordinator=False)


async def announce_end(
    context: PeerContext, person: Person, pause: Pause, *, by_coordinator: bool
) -> None:
    services = context.services
    if not by_coordinator:

        def render(_: Translate, language: str) -> str:
            return _("{name} is back from the pause and ready again.").format(
                name=person.first_name
            )

        await tell_coordinators(context, context.session, render)
    log.info("pause %s ended for person %s", pause.id, person.id)
    await services.emit("pause_ended", context, person=person, pause=pause)


async def want_to_talk(update: Update, context: PeerContext, person: Person) -> None:
    _ = context.texts(person.language)

    def render(_: Translate, language: str) -> str:
        return _(
            "{name} would like to talk with you about the pause. Perhaps give them a call "
            "or write to them?"
        ).format(name=person.first_name)

    await tell_coordinators(context, context.session, render)
    await reply(
        update,
        _(
            "I have told the coordinator that you would like to talk. They will get in touch "
            "with you."
        ),
    )


# Typed answers -------------------------------------------------------------------------------


class AwaitingTyping(MessageFilter):
    """Private texts from someone whose pause flow waits for a date or a message."""

    def __init__(self, application: Application) -> None:
        super().__init__(name="AwaitingPauseTyping")
        self.application = application

    def filter(self, message: Message) -> bool:
        user = message.from_user
        if user is None or message.chat.type != "private":
            return False
        flow = (self.application.user_data.get(user.id) or {}).get(FLOW)
        return bool(flow) and flow.get("step") in TYPED_STEPS


async def typed(update: Update, context: PeerContext) -> None:
    message = update.effective_message
    person = await current_person(context, update)
    flow = context.user_data.get(FLOW)
    if message is None or not message.text or flow is None:
        return
    if person is None:
        context.user_data.pop(FLOW, None)
        return
    _ = context.texts(person.language)
    if flow["step"] == "note":
        flow["note"] = message.text.strip()[:3000]
        await show_summary(update, context, person)
        return
    today = pauses.local_day(context.services.clock.now(), context.services.tz)
    parsed = pauses.parse_end_date(message.text, today)
    example = date_example(context)
    if parsed is pauses.DateProblem.UNREADABLE:
        await reply(
            update,
            _("I couldn't read that as a date, no problem. Please write it like {example}.").format(
                example=example
            ),
        )
    elif parsed is pauses.DateProblem.NOT_IN_FUTURE:
        await reply(
            update,
            _("That date is not after today. Please write a later date, e.g. {example}.").format(
                example=example
            ),
        )
    elif parsed is pauses.DateProblem.TOO_FAR:
        await reply(
            update,
            _(
                "Let's choose a date within the next two years, e.g. {example}. You can always "
                "make the pause longer later."
            ).format(example=example),
        )
    else:
        assert isinstance(parsed, date)
        await length_chosen(update, context, person, parsed)


# Buttons ---------------------------------------------------------------------------------------


async def tapping_person(update: Update, context: PeerContext) -> Person | None:
    """The registered volunteer who tapped a button of their own flow, or a kind pointer."""
    person = await current_person(context, update)
    if person is None or not person.started_bot:
        await reply(update, texts_for(context, update)(NOT_REGISTERED))
        return None
    return person


async def answered(update: Update, *, keep_keyboard: bool = False) -> None:
    """Acknowledge the tap; take the buttons off an answered question."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if not keep_keyboard:
        await remove_keyboard(query.message)


@BUTTONS.route(PauseAction.BEGIN)
async def on_begin(update: Update, context: PeerContext) -> None:
    await answered(update, keep_keyboard=True)
    if person := await tapping_person(update, context):
        await begin(update, context, person)


@BUTTONS.route(PauseAction.CANCEL)
async def on_cancel(update: Update, context: PeerContext) -> None:
    await answered(update)
    if person := await tapping_person(update, context):
        context.user_data.pop(FLOW, None)
        _ = context.texts(person.language)
        await reply(
            update,
            _("All right, nothing has changed. The door is always open: just write /pause."),
        )


@BUTTONS.route(PauseAction.BACK)
async def on_back(update: Update, context: PeerContext) -> None:
    await answered(update)
    if person := await tapping_person(update, context):
        await come_back(update, context, person)


@BUTTONS.route(PauseAction.TALK)
async def on_talk(update: Update, context: PeerContext) -> None:
    await answered(update, keep_keyboard=True)
    if person := await tapping_person(update, context):
        await want_to_talk(update, context, person)


@BUTTONS.route(PauseAction.MORE)
async def on_more(update: Update, context: PeerContext) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None:
        return
    _ = context.texts(person.language)
    now = context.services.clock.now()
    if await people.current_pause(context.session, person.id, now) is None:
        await reply(update, _("You are not on a pause right now."))
        return
    context.user_data[FLOW] = {"mode": "extend", "step": "length", "since": now}
    await reply(
        update,
        _("Of course. Until when, roughly? You can also just write a date, e.g. {example}.").format(
            example=date_example(context)
        ),
        reply_markup=length_keyboard(_, PauseAction.LENGTH),
    )


async def flow_of(update: Update, context: PeerContext, person: Person) -> dict | None:
    """The running flow; without one (a restart, or finished) start again kindly."""
    flow = context.user_data.get(FLOW)
    if flow is None:
        _ = context.texts(person.language)
        await reply(update, _("Sorry, I lost track of where we were. Let's start again."))
        await begin(update, context, person)
    return flow


@BUTTONS.route(PauseAction.LENGTH, choice(*LENGTHS, DATE))
async def on_length(update: Update, context: PeerContext, length: str) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    if length == DATE:
        flow["step"] = "date"
        await ask_for_date(update, context, context.texts(person.language))
        return
    today = pauses.local_day(context.services.clock.now(), context.services.tz)
    await length_chosen(update, context, person, pauses.planned_end(pauses.Length(length), today))


@BUTTONS.route(PauseAction.COVER, choice(COVER_YES, COVER_SELF))
async def on_cover(update: Update, context: PeerContext, answer: str) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    flow["wants_cover"] = answer == COVER_YES
    flow["cover_asked"] = True
    await ask_for_note(update, context, person)


@BUTTONS.route(PauseAction.NOTE, choice(NO_NOTE))
async def on_no_note(update: Update, context: PeerContext, _none: str) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    flow.pop("note", None)
    await show_summary(update, context, person)


@BUTTONS.route(PauseAction.CONFIRM)
async def on_confirm(update: Update, context: PeerContext) -> None:
    await answered(update)
    person = await tapping_person(update, context)
    if person is None or (flow := await flow_of(update, context, person)) is None:
        return
    if flow.get("step") == "confirm":
        await confirm(update, context, person)


# Commands ----------------------------------------------------------------------------------------


@private_only
async def resume_command(update: Update, context: PeerContext) -> None:
    person = await current_person(context, update)
    if person is None or not person.started_bot:
        await reply(update, texts_for(context, update)(NOT_REGISTERED))
        return
    await come_back(update, context, person)


async def _volunteer_buttons(
    update: Update, context: PeerContext, candidates: list[Person], action: PauseAction
) -> InlineKeyboardMarkup:
    """One button per volunteer, each with its own single-use token naming exactly them
    (a newer list replaces this one)."""
    kind = _KINDS[action]
    tokens = await _offer(update, context, kind, [p.id for p in candidates], supersede=True)
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(p.first_name, callback_data=BUTTONS.encode(action, token))]
            for p, token in zip(candidates, tokens, strict=True)
        ]
    )


_KINDS = {
    PauseAction.PICK: confirmations.Kind.PAUSE_SOMEONE,
    PauseAction.PICK_LENGTH: confirmations.Kind.PAUSE_SOMEONE,
    PauseAction.RESUME: confirmations.Kind.RESUME_SOMEONE,
}


async def _offer(
    update: Update,
    context: PeerContext,
    kind: confirmations.Kind,
    person_ids: list[int],
    *,
    supersede: bool,
) -> list[str]:
    services = context.services
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    now = services.clock.now()
    if supersede:
        await confirmations.supersede(context.session, services.group_id, (kind,), user.id, now)
    return [
        await confirmations.offer(
            context.session,
            services.group_id,
            kind,
            actor_user_id=user.id,
            chat_id=chat.id,
            now=now,
            person_id=person_id,
        )
        for person_id in person_ids
    ]


def volunteer_paused_text(context: PeerContext, person: Person, pause: Pause) -> str:
    """What a volunteer reads when the coordinator has paused them."""
    _ = context.texts(person.language)
    if pause.until is None:
        when = _(
            "When you are ready, just write /resume. Otherwise I will ask you gently in a few "
            "weeks how you are."
        )
    else:
        when = _(
            "When you are ready, just write /resume. Otherwise I will ask you gently on {day}."
        ).format(day=until_text(context, pause.until, person.language))
    return "\n".join(
        [
            _(
                "Hi {name}. The coordinator has put you on a pause, as you talked about. Take "
                "good care of yourself."
            ).format(name=person.first_name),
            _("While you are on a pause, I won't send you reminders."),
            when,
        ]
    )


def couldnt_tell(context: PeerContext, person: Person, language: str) -> str:
    return context.texts(language)(
        "I couldn't write to {name} privately (they haven't started me, or have blocked me), "
        "so please tell them yourself."
    ).format(name=person.first_name)


async def coordinator_pause(
    update: Update, context: PeerContext, person: Person, until_day: date | None
) -> None:
    """The coordinator pauses a volunteer (after a talk): both are told."""
    services = context.services
    _ = texts_for(context, update)
    if person.is_coordinator or services.settings.is_coordinator(person.telegram_user_id):
        await reply(
            update,
            _(
                "{name} is a coordinator, and /pausevolunteer is for volunteers. A coordinator "
                "who needs a break arranges it with the association."
            ).format(name=person.first_name),
        )
        return
    now = services.clock.now()
    matches = await matches_for_person(context.session, services.group_id, person.id, now)
    try:
        pause = await pauses.start_pause(
            context.session,
            services.group_id,
            person.id,
            now,
            until_day=until_day,
            wants_cover=pauses.cover_wanted(matches),
            rhythm=rhythm(services),
            tz=services.tz,
        )
    except pauses.AlreadyPaused:
        await reply(update, _("{name} is already on a pause.").format(name=person.first_name))
        return
    matches = await matches_for_person(
        context.session,
        services.group_id,
        person.id,
        now,
        horizon=pauses.affected_horizon(now, pause.until, services.tz),
    )
    told = await send_to_person(context, person, volunteer_paused_text(context, person, pause))
    language = language_of(context, update.effective_user)
    render = coordinator_notice(context, person, pause, matches, None, by_coordinator=True)
    text = render(context.texts(language), language)
    if not told.sent:
        text += "\n\n" + couldnt_tell(context, person, language)
    await reply(update, text)
    log.info("pause %s started by the coordinator for person %s", pause.id, person.id)
    await services.emit("pause_started", context, person=person, pause=pause)


async def coordinator_resume(update: Update, context: PeerContext, person: Person) -> None:
    services = context.services
    language = language_of(context, update.effective_user)
    _ = context.texts(language)
    try:
        pause = await pauses.end_pause(context.session, person.id, services.clock.now())
    except pauses.NotPaused:
        await reply(update, _("{name} is not on a pause.").format(name=person.first_name))
        return
    welcome = context.texts(person.language)(
        "Welcome back, {name}! The coordinator has ended your pause, as you talked about. "
        "It is good to have you here again, and your reminders start again."
    ).format(name=person.first_name)
    told = await send_to_person(context, person, welcome)
    if told.sent:
        text = _("{name}'s pause has ended. I have told them, and their reminders start again.")
    else:
        text = _("{name}'s pause has ended, and their reminders start again.")
    text = text.format(name=person.first_name)
    if not told.sent:
        text += "\n\n" + couldnt_tell(context, person, language)
    await reply(update, text)
    await announce_end(context, person, pause, by_coordinator=True)


@private_only
@coordinator_only
async def pause_volunteer_command(update: Update, context: PeerContext) -> None:
    """`/pausevolunteer @anna [until YYYY-MM-DD]`, or without a name: a list to tap."""
    _ = texts_for(context, update)
    services = context.services
    args = list(context.args or [])
    now = services.clock.now()
    if not args:
        paused = await people.paused_person_ids(context.session, services.group_id, now)
        candidates = [
            p
            for p in await people.members(context.session, services.group_id)
            if p.id not in paused and not services.settings.is_coordinator(p.telegram_user_id)
        ]
        if not candidates:
            await reply(update, _("There is no one to put on a pause right now."))
            return
        await reply(
            update,
            _(
                "Who would you like to put on a pause? (Or write /pausevolunteer @name until "
                "2027-01-15.)"
            ),
            reply_markup=await _volunteer_buttons(update, context, candidates, PauseAction.PICK),
        )
        return
    person = await volunteer_named(update, context, args[0])
    if person is None:
        return
    until_day: date | None = None
    rest = [a for a in args[1:] if a.lower() not in ("until", "til")]
    if rest:
        today = pauses.local_day(now, services.tz)
        parsed = pauses.parse_end_date(rest[0], today)
        if not isinstance(parsed, date):
            await reply(
                update,
                _("Please write the end date after today, like {example}.").format(
                    example=date_example(context)
                ),
            )
            return
        until_day = parsed
    await coordinator_pause(update, context, person, until_day)


async def volunteer_named(update: Update, context: PeerContext, name: str) -> Person | None:
    """The group member the coordinator named (@username); a kind pointer if unknown."""
    person = await people.find_by_username(context.session, context.services.group_id, name)
    if person is None:
        _ = texts_for(context, update)
        await reply(
            update,
            _("I don't know {who} in the group. /volunteers shows who I know.").format(who=name),
        )
    return person


@private_only
@coordinator_only
async def resume_volunteer_command(update: Update, context: PeerContext) -> None:
    """`/resumevolunteer @anna`, or without a name: the paused volunteers to tap."""
    _ = texts_for(context, update)
    services = context.services
    args = list(context.args or [])
    if not args:
        paused = await pauses.paused_people(
            context.session, services.group_id, services.clock.now()
        )
        if not paused:
            await reply(update, _("No one is on a pause right now."))
            return
        await reply(
            update,
            _("Whose pause would you like to end?"),
            reply_markup=await _volunteer_buttons(
                update, context, [p for p, _pause in paused], PauseAction.RESUME
            ),
        )
        return
    person = await volunteer_named(update, context, args[0])
    if person is None:
        return
    await coordinator_resume(update, context, person)


async def picked_volunteer(
    update: Update, context: PeerContext, token: str, kind: confirmations.Kind
) -> Person | None:
    """The volunteer a coordinator's list button names (its token used up now), if still in
    the group; None after a kind word."""
    pending = await take_confirmation(update, context, token, kind)
    if pending is None or pending.subject_person_id is None:
        return None
    query = update.callback_query
    assert query is not None
    await query.answer()
    await remove_keyboard(query.message)
    person = await people.member_by_id(
        context.session, context.services.group_id, pending.subject_person_id
    )
    if person is None:
        _ = texts_for(context, update)
        await reply(update, _("I can't find that volunteer in the group any more."))
    return person


@BUTTONS.route(PauseAction.PICK, TOKEN, who=Who.COORDINATOR)
async def on_pick(update: Update, context: PeerContext, token: str) -> None:
    """The coordinator picked whom to pause: ask for how long."""
    kind = confirmations.Kind.PAUSE_SOMEONE
    if (person := await picked_volunteer(update, context, token, kind)) is None:
        return
    _ = texts_for(context, update)
    [length_token] = await _offer(update, context, kind, [person.id], supersede=False)
    await reply(
        update,
        _("For how long should {name}'s pause be?").format(name=person.first_name),
        reply_markup=length_keyboard(_, PauseAction.PICK_LENGTH, length_token, with_date=False),
    )


@BUTTONS.route(PauseAction.PICK_LENGTH, TOKEN, choice(*LENGTHS), who=Who.COORDINATOR)
async def on_pick_length(update: Update, context: PeerContext, token: str, length: str) -> None:
    kind = confirmations.Kind.PAUSE_SOMEONE
    if (person := await picked_volunteer(update, context, token, kind)) is None:
        return
    today = pauses.local_day(context.services.clock.now(), context.services.tz)
    await coordinator_pause(
        update, context, person, pauses.planned_end(pauses.Length(length), today)
    )


@BUTTONS.route(PauseAction.RESUME, TOKEN, who=Who.COORDINATOR)
async def on_resume_picked(update: Update, context: PeerContext, token: str) -> None:
    kind = confirmations.Kind.RESUME_SOMEONE
    if (person := await picked_volunteer(update, context, token, kind)) is None:
        return
    await coordinator_resume(update, context, person)


# Keeping in touch (scheduler pass) -------------------------------------------------------------


def forget_unfinished_flows(application: Application, now: datetime) -> None:
    """A flow left half-way may hold a typed message: don't keep it in memory for long."""
    for data in list(application.user_data.values()):
        flow = data.get(FLOW)
        if flow is not None and now - flow.get("since", now) > FLOW_LIFETIME:
            data.pop(FLOW, None)


async def run_due(context: PeerContext) -> None:
    """Remind the coordinator to check in, and ask paused volunteers whether they are ready.
    Each item is claimed (its due time moved on) in its own transaction together with the
    send, so a restart never repeats one; a late pass sends once, not once per missed cycle."""
    services = context.services
    now = services.clock.now()
    forget_unfinished_flows(context.application, now)
    async with services.db.transaction() as session:
        checkins = await pauses.due_checkins(session, services.group_id, now)
        questions = await pauses.due_questions(session, services.group_id, now)
    for pause_id in checkins:
        async with services.db.transaction() as session:
            pause = await pauses.claim_checkin(
                session, pause_id, now, rhythm=rhythm(services), tz=services.tz
            )
            if pause is None:
                continue
            person = await rows.person(session, pause.person_id)
            if not person.is_member:
                continue
            started = pause.started_at

            def render(
                _: Translate, language: str, person: Person = person, started: datetime = started
            ) -> str:
                return _(
                    "A gentle reminder: {name} has been on a pause since {since}. Perhaps it is "
                    "a good time to check in and hear how things are?"
                ).format(
                    name=person.first_name,
                    since=format_day(started, services.tz, language, now=now),
                )

            await tell_coordinators(context, session, render)
            log.info("check-in reminder sent for pause %s", pause_id)
    for pause_id in questions:
        async with services.db.transaction() as session:
            pause = await pauses.claim_question(
                session, pause_id, now, rhythm=rhythm(services), tz=services.tz
            )
            if pause is None:
                continue
            person = await rows.person(session, pause.person_id)
            if not person.is_member or not person.reachable:
                continue
            text, markup = readiness_question(context, person, pause)
            await send_to_person(context, person, text, reply_markup=markup)
            log.info("readiness question sent for pause %s", pause_id)


def readiness_question(
    context: PeerContext, person: Person, pause: Pause
) -> tuple[str, InlineKeyboardMarkup]:
    _ = context.texts(person.language)
    if pause.until is not None and pause.until <= context.services.clock.now():
        opening = _("Hi {name}. How are you? Your pause was planned until today.")
    else:
        opening = _("Hi {name}. How are you? It has been a while since your pause began.")
    text = "\n".join(
        [
            opening.format(name=person.first_name),
            _(
                "Are you ready to come back, or would you like a little longer? There is no "
                "hurry, and both are completely fine."
            ),
        ]
    )
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, I'm back"), callback_data=BUTTONS.encode(PauseAction.BACK)
                )
            ],
            [
                InlineKeyboardButton(
                    _("A little longer"), callback_data=BUTTONS.encode(PauseAction.MORE)
                )
            ],
            [InlineKeyboardButton(_("Let's talk"), callback_data=BUTTONS.encode(PauseAction.TALK))],
        ]
    )
    return text, keyboard


def register(application: Application, services: Services) -> None:
    private, groups = filters.ChatType.PRIVATE, filters.ChatType.GROUPS
    application.add_handler(
        CommandHandler(
            "start", start_pause_link, filters=private & filters.Regex(r"^/start pause\b")
        )
    )
    # In the group every pause command is removed (when we may) and answered neutrally.
    application.add_handler(CommandHandler("pause", pause_in_group, filters=groups))
    application.add_handler(
        CommandHandler(["resume", "pausevolunteer", "resumevolunteer"], resume_in_group, groups)
    )
    application.add_handler(CommandHandler("pause", pause_command))
    application.add_handler(CommandHandler("resume", resume_command))
    application.add_handler(CommandHandler("pausevolunteer", pause_volunteer_command))
    application.add_handler(CommandHandler("resumevolunteer", resume_volunteer_command))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & AwaitingTyping(application), typed)
    )
