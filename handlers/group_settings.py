"""The group's own settings, set by its coordinators in the private chat: `/crisishelp`
(the crisis help its volunteers see in the pause flow: show, set, back to the standard
text) and `/digest` (when the coordinators get the weekly overview of the matches). The
meeting's settings are `/meetingsettings` (handlers/meeting.py).

Only the group's own coordinators, never a stand-in (these are not everyday work), and
always the group of the update: a coordinator of group A never changes group B's. The
texts typed are never logged.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import time
from enum import StrEnum

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import PeerContext, Services, current_group
from bot.domain import group_settings
from bot.i18n import N_, Translate
from handlers.callbacks import Callbacks, Who, acknowledge
from handlers.common import (
    CommandInfo,
    group_coordinator_only,
    private_only,
    reply,
    reply_language,
    texts_for,
)
from handlers.matches_common import clock, parse_weekday_and_time, weekday_name
from handlers.pause.common import DEFAULT_CRISIS_HELP
from handlers.settings import Section, add_section

log = logging.getLogger(__name__)

COMMANDS = [
    CommandInfo(
        "crisishelp",
        N_("The crisis help your volunteers see: show or change it"),
        "coordinator",
        stand_in=False,
    ),
    CommandInfo(
        "digest",
        N_("When the weekly overview of the matches comes"),
        "coordinator",
        stand_in=False,
    ),
]

# "/crisishelp standard", "/digest standard": back to the default (either language).
RESET_WORDS = {"standard", "default", "nulstil", "reset"}


def _args_text(update: Update) -> str:
    """What follows the command, as typed (line breaks kept)."""
    message = update.effective_message
    assert message is not None
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


# /crisishelp ---------------------------------------------------------------------------------


def _as_volunteers_see_it(context: PeerContext, _: Translate, own: str | None) -> str:
    """The line in the pause flow, with the group's own text or the default."""
    default = context.services.settings.crisis_help_text.strip() or _(DEFAULT_CRISIS_HELP)
    return _("If things feel very hard right now, you can get help at once: {help}").format(
        help=(own or "").strip() or default
    )


def _remember_crisis_help(text: str | None) -> None:
    """The rest of this update sees the new text too (the group was read at its start)."""
    scope = current_group.get()
    if scope is not None:
        current_group.set(dataclasses.replace(scope, crisis_help_text=text or None))


async def show_crisis_help(update: Update, context: PeerContext) -> None:
    """What the volunteers see now, whose text it is, and how to change it."""
    _ = texts_for(context, update)
    group = context.services.group
    own = group.crisis_help_text if group is not None else None
    lines = [
        _("When your volunteers ask for a pause, they see:"),
        "",
        _as_volunteers_see_it(context, _, own),
        "",
        _("This is your group's own text.") if own else _("This is the standard text."),
        _(
            "To change it, write /crisishelp followed by the new text. To go back to the "
            "standard text, write /crisishelp standard."
        ),
    ]
    await reply(update, "\n".join(lines))


@private_only
@group_coordinator_only
async def crisis_help(update: Update, context: PeerContext) -> None:
    """`/crisishelp` shows the text, `/crisishelp <text>` sets the group's own,
    `/crisishelp standard` goes back to the default."""
    _ = texts_for(context, update)
    services = context.services
    typed = _args_text(update)
    if not typed:
        await show_crisis_help(update, context)
        return
    reset = typed.lower() in RESET_WORDS
    try:
        await group_settings.set_crisis_help(
            context.session, services.group_id, None if reset else typed
        )
    except group_settings.TooLong:
        await reply(
            update,
            _("That is too long: at most {count} characters, please.").format(
                count=group_settings.MAX_CRISIS_HELP
            ),
        )
        return
    _remember_crisis_help(None if reset else typed)
    log.info("group %s: crisis help %s", services.group_id, "reset" if reset else "changed")
    headline = (
        _("Done: your volunteers see the standard text again.")
        if reset
        else _("Saved. From now on your volunteers see:")
    )
    shown = _as_volunteers_see_it(context, _, None if reset else typed)
    await reply(update, f"{headline}\n\n{shown}")


# /digest -------------------------------------------------------------------------------------


def _slot_text(_: Translate, language: str, weekday: int, at: time) -> str:
    return _("every {weekday} at {time}").format(
        weekday=weekday_name(weekday, language), time=clock(at, language)
    )


def _default_and_example(context: PeerContext, _: Translate, language: str) -> tuple[str, str]:
    settings = context.services.settings
    default = _slot_text(_, language, settings.digest_weekday % 7, settings.digest_time)
    example = f"/digest {weekday_name(4, language)} {clock(time(14, 0), language)}"
    return default, example


async def show_digest(update: Update, context: PeerContext) -> None:
    """When the weekly overview comes now, and how to move it."""
    _ = texts_for(context, update)
    language = reply_language(context, update)
    default, example = _default_and_example(context, _, language)
    weekday, at = context.services.digest_slot
    lines = [
        _("Your weekly overview of the matches comes {slot}.").format(
            slot=_slot_text(_, language, weekday, at)
        ),
        _(
            "To move it, write for example {example}. To go back to the standard "
            "({default}), write /digest standard."
        ).format(example=example, default=default),
    ]
    await reply(update, "\n".join(lines))


@private_only
@group_coordinator_only
async def digest(update: Update, context: PeerContext) -> None:
    """`/digest` shows when the weekly overview comes, `/digest <weekday> <time>` moves
    it, `/digest standard` goes back to the default."""
    _ = texts_for(context, update)
    language = reply_language(context, update)
    services = context.services
    typed = _args_text(update)
    default, example = _default_and_example(context, _, language)
    if not typed:
        await show_digest(update, context)
        return
    if typed.lower() in RESET_WORDS:
        await group_settings.set_digest_slot(context.session, services.group_id, None)
        log.info("group %s: digest slot reset", services.group_id)
        await reply(
            update,
            _("Done: your weekly overview comes {slot} again.").format(slot=default),
        )
        return
    slot = parse_weekday_and_time(typed)
    if slot is None:
        await reply(
            update,
            _("I couldn't read that. An example of what works: {example}").format(example=example),
        )
        return
    await group_settings.set_digest_slot(context.session, services.group_id, slot)
    log.info("group %s: digest slot changed", services.group_id)
    await reply(
        update,
        _("Saved: your weekly overview comes {slot} from now on.").format(
            slot=_slot_text(_, language, *slot)
        ),
    )


# In the /settings menu -----------------------------------------------------------------------


class Action(StrEnum):
    CRISIS_HELP = "crisis"
    DIGEST = "digest"


BUTTONS: Callbacks[Action] = Callbacks("groupset", Action)


@BUTTONS.route(Action.CRISIS_HELP, who=Who.GROUP_COORDINATOR)
async def on_crisis_help(update: Update, context: PeerContext) -> None:
    await acknowledge(update)
    await show_crisis_help(update, context)


@BUTTONS.route(Action.DIGEST, who=Who.GROUP_COORDINATOR)
async def on_digest(update: Update, context: PeerContext) -> None:
    await acknowledge(update)
    await show_digest(update, context)


def register(application: Application, services: Services) -> None:
    application.add_handler(CommandHandler("crisishelp", crisis_help))
    application.add_handler(CommandHandler("digest", digest))
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
    add_section(
        services,
        Section(N_("Crisis help"), BUTTONS.encode(Action.CRISIS_HELP), coordinator_only=True),
    )
    add_section(
        services,
        Section(N_("Weekly overview"), BUTTONS.encode(Action.DIGEST), coordinator_only=True),
    )
