"""First contact: `/start` and `/help`, and the command menus."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import PeerContext, Services, done_in_earlier_try
from bot.domain import away, groups, people, rows
from bot.domain.localtime import local_to_utc
from bot.i18n import N_, format_day, texts
from handlers.callbacks import stale_button
from handlers.common import (
    CommandInfo,
    find_newcomers_group,
    is_coordinator,
    is_group_member,
    is_private,
    private_chat_button,
    reply,
    telegram_person,
    texts_for,
)
from handlers.membership import confirmed_lately, remember_confirmed
from handlers.pause_buttons import BUTTONS, PauseAction

if TYPE_CHECKING:
    from storage.models import Person

log = logging.getLogger(__name__)

COMMANDS = [
    CommandInfo("start", N_("Say hello and get started"), "volunteer"),
    CommandInfo("help", N_("What I can do for you"), "volunteer"),
    CommandInfo("help", N_("How to reach me privately"), "group"),
]


def all_commands(application: Application) -> list[CommandInfo]:
    return application.bot_data["commands"]


async def register_from_private_chat(
    update: Update, context: PeerContext, *, tell_features: bool = True
) -> Person | None:
    """Register the sender of a private message if they are in the group; otherwise answer
    kindly and make sure nothing about them is kept. Returns the person or None. With
    `tell_features=False` the caller emits "person_started" itself (see `start`)."""
    if not await member_or_refused(update, context):
        return None
    person = await record_sender(update, context)
    if tell_features:
        await context.services.emit("person_started", context, person=person)
    return person


async def member_or_refused(update: Update, context: PeerContext) -> bool:
    """Whether the sender of a private message is in the group; if not, they get the kind
    refusal (once in a while) and nothing about them is kept."""
    user = update.effective_user
    assert user is not None
    services = context.services
    now = services.clock.now()
    # Telegram is asked unless it said so within minutes (every way of leaving forgets it).
    inside = is_coordinator(context, update) or confirmed_lately(context, user.id, now)
    if not inside and await is_group_member(context, user.id):
        inside = True
        remember_confirmed(context, user.id, now)
    if not inside and await find_newcomers_group(context, user.id):
        inside = True  # in another group served here: that group is this update's now
        remember_confirmed(context, user.id, now)
    if not inside:
        known = await people.find_person(context.session, services.group_id, user.id)
        if known is not None and known.is_member:
            # Removed while the bot missed the update: they left, with the usual retention.
            await services.emit("member_gone", context, person=known)
        await people.forget_non_member(context.session, services.group_id, user.id)
        if not first_answer_in_a_while(context, user.id, now):
            return False  # a stranger's flood gets one answer, then silence for a while
        _ = texts_for(context, update)
        await reply(
            update,
            _(
                "Hi! I am the helper of a closed group of volunteers, so I can only help "
                "its members. If you think you should be in the group, please contact the "
                "coordinator. Take care."
            ),
        )
        return False
    return True


async def record_sender(update: Update, context: PeerContext) -> Person:
    """Register (or refresh) the sender of a private message, known to be in the group."""
    user = update.effective_user
    assert user is not None
    services = context.services
    return await people.record_member(
        context.session,
        services.group_id,
        telegram_person(context, user),
        services.clock.now(),
        started_bot=True,
    )


# A stranger (not in the group) gets one polite answer, then none for this long: a flood
# of their messages then costs no sends (and no waiting on their chat's rate limit).
STRANGER_QUIET = timedelta(minutes=10)


def answered_stranger_lately(context: PeerContext, user_id: int, now: datetime) -> bool:
    """Whether this stranger got the polite answer less than STRANGER_QUIET ago."""
    last = context.application.bot_data.get("strangers", {}).get(user_id)
    return last is not None and timedelta(0) <= now - last < STRANGER_QUIET


def first_answer_in_a_while(context: PeerContext, user_id: int, now: datetime) -> bool:
    """Whether a stranger's message is the first in STRANGER_QUIET (kept in memory only:
    after a restart they simply get one more polite answer)."""
    answered: dict[int, datetime] = context.application.bot_data.setdefault("strangers", {})
    if answered_stranger_lately(context, user_id, now):
        return False
    if len(answered) > 1000:  # forget the old ones, so a crowd can't grow this forever
        for old in [u for u, t in answered.items() if now - t >= STRANGER_QUIET]:
            del answered[old]
    answered[user_id] = now
    return True


def pause_button(_: Callable[[str], str]) -> InlineKeyboardMarkup:
    """Asking for a pause is always one tap away (handled by handlers/pause.py)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("I need a pause"), callback_data=BUTTONS.encode(PauseAction.BEGIN)
                )
            ]
        ]
    )


def commands_for(application: Application, *, coordinator: bool) -> list[CommandInfo]:
    audiences = {"volunteer", "coordinator"} if coordinator else {"volunteer"}
    return [c for c in all_commands(application) if c.audience in audiences]


@dataclass(frozen=True)
class StandingIn:
    """Whom this person stands in for now (`/away`), and until which day, written out."""

    coordinator: str
    last_day: str


def help_text(
    context: PeerContext,
    language: str,
    *,
    coordinator: bool,
    standing_in: StandingIn | None = None,
) -> str:
    _ = texts(language)
    lines = [
        _("Hi, I am PeerBot, the volunteers' helper in the group."),
        _(
            "I find a date for the monthly volunteer meeting, send the minutes to those who "
            "couldn't come, remind you of your meetings, and make it easy to ask for a pause."
        ),
        "",
        _("What you can ask me here:"),
    ]
    for command in commands_for(context.application, coordinator=False):
        lines.append(f"/{command.name} – {_(command.description)}")
    scope = context.services.group
    if scope is not None and scope.marks_buttons:
        # Only someone in several groups has anything to choose (not in the menus, which
        # are the same for everyone).
        lines.append("/group – " + _("Choose which of your groups we are talking about"))
    if coordinator:
        lines += ["", _("As coordinator you can also use:")]
        for command in commands_for(context.application, coordinator=True):
            if command.audience == "coordinator":
                lines.append(f"/{command.name} – {_(command.description)}")
    elif standing_in is not None:
        # The stand-in's everyday commands only: never the rights over people's data.
        lines += [
            "",
            _(
                "While you stand in for {coordinator} (until and including {day}), you can "
                "also use:"
            ).format(coordinator=standing_in.coordinator, day=standing_in.last_day),
        ]
        for command in commands_for(context.application, coordinator=True):
            if command.audience == "coordinator" and command.stand_in:
                lines.append(f"/{command.name} – {_(command.description)}")
    return "\n".join(lines)


async def standing_in_now(context: PeerContext, user_id: int, language: str) -> StandingIn | None:
    """Whom this person stands in for right now, if anyone (`/help` shows them more)."""
    services = context.services
    now = services.clock.now()
    period = await away.standing_in(context.session, services.group_id, user_id, now)
    if period is None:
        return None
    coordinator = await rows.find_person(context.session, period.coordinator_id)
    _ = texts(language)
    last = away.last_day(period, services.tz)
    moment = local_to_utc(last, datetime.min.time(), services.tz)
    return StandingIn(
        coordinator=coordinator.first_name if coordinator is not None else _("the coordinator"),
        last_day=format_day(moment, services.tz, language, now=now),
    )


async def start(update: Update, context: PeerContext) -> None:
    """Welcome a group member in private and register them."""
    if not is_private(update):
        await help_command(update, context)
        return
    if not await member_or_refused(update, context):
        return
    # The welcome needs nothing stored (name and language are Telegram's, as registering
    # stores them), so it goes first and doesn't wait for the writes; once per update, also
    # when the database fails after it and the update is tried again.
    done = done_in_earlier_try.get()
    if done is None or "welcomed" not in done:
        await welcome(update, context)
        if done is not None:
            done.add("welcomed")
    person = await record_sender(update, context)
    # The features' part (reminders of a decided meeting, minutes held for them) only
    # queues messages that go once the update commits, after the welcome in any case.
    await context.services.emit("person_started", context, person=person)


async def welcome(update: Update, context: PeerContext) -> None:
    """The welcome and what they can do here, in their language."""
    user = update.effective_user
    assert user is not None
    who = telegram_person(context, user)
    _ = context.texts(who.language)
    # Named as registering stores it (people.record_member keeps 64 characters).
    greeting = _("Welcome, {name}! It is good to have you here.").format(
        name=who.first_name[:64]
    )
    # The stand-in's extra commands are for /help: /start stays one statement lighter.
    body = help_text(context, who.language, coordinator=who.is_coordinator)
    await reply(update, f"{greeting}\n\n{body}", reply_markup=pause_button(_))


async def help_command(update: Update, context: PeerContext) -> None:
    """In private: what this person can do. In the group: a short pointer to the private chat."""
    _ = texts_for(context, update)
    if not is_private(update):
        await reply(
            update,
            _("I help the volunteers in a private chat. Tap the button to talk to me there."),
            reply_markup=private_chat_button(context, _("Open a private chat"), "help"),
        )
        return
    user = update.effective_user
    assert user is not None
    person = await people.find_person(context.session, context.services.group_id, user.id)
    language = person.language if person else context.services.language
    coordinator = is_coordinator(context, update)
    standing_in = None if coordinator else await standing_in_now(context, user.id, language)
    await reply(
        update,
        help_text(context, language, coordinator=coordinator, standing_in=standing_in),
        reply_markup=pause_button(texts(language)),
    )


async def anything_else(update: Update, context: PeerContext) -> None:
    """A private message no feature took: a kind pointer to /help (or, for someone outside
    the group, the same kind refusal as /start). Nothing of the message is kept or logged."""
    user = update.effective_user
    if user is None:
        return
    services = context.services
    if answered_stranger_lately(context, user.id, services.clock.now()):
        return  # a flood costs nothing: no lookups, no answer (/start still asks Telegram)
    person = await people.find_person(context.session, services.group_id, user.id)
    if person is None or not person.is_member:
        if is_coordinator(context, update) or await is_group_member(context, user.id):
            _ = texts_for(context, update)
            await reply(update, _("Hi! Send /start and I will tell you what I can do."))
            return
        await register_from_private_chat(update, context)  # answers with the kind refusal
        return
    _ = context.texts(person.language)
    await reply(update, _("I didn't quite understand that. Send /help to see what I can do."))


def _bot_commands(commands: list[CommandInfo], language: str) -> list[BotCommand]:
    _ = texts(language)
    seen: dict[str, BotCommand] = {}
    for command in commands:
        seen.setdefault(command.name, BotCommand(command.name, _(command.description)[:256]))
    return list(seen.values())


async def publish_command_menus(application: Application) -> None:
    """Menus per scope, in Danish (the default) and English. Failures only cost the menu."""
    services: Services = application.bot_data["services"]
    commands = all_commands(application)
    volunteer = [c for c in commands if c.audience == "volunteer"]
    coordinator = [c for c in commands if c.audience in ("volunteer", "coordinator")]
    group = [c for c in commands if c.audience == "group"]
    default_language = services.language
    scopes: list[tuple[BotCommandScope, list[CommandInfo]]] = [
        (BotCommandScopeAllPrivateChats(), volunteer),
        (BotCommandScopeAllGroupChats(), group),
    ]
    async with services.db.transaction() as session:
        coordinators = await groups.all_coordinator_ids(session)
    scopes += [(BotCommandScopeChat(cid), coordinator) for cid in coordinators]
    for scope, chosen in scopes:
        for language in ("da", "en"):
            code = None if language == default_language else language
            try:
                await application.bot.set_my_commands(
                    _bot_commands(chosen, language), scope=scope, language_code=code
                )
            except TelegramError as error:
                # A coordinator who never opened the private chat has no chat to scope to yet.
                log.warning("command menu for %s not set: %s", scope.type, type(error).__name__)


def register(application: Application, services: Services) -> None:
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    # Last in group 0: only what no feature's handler took.
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL, anything_else)
    )
    application.add_handler(CallbackQueryHandler(stale_button))
