"""Which group a private command is about, for someone in several groups.

A private command that acts on a group's data (`/pause`, `/meetings`, `/referat`,
`/mydata`...) from someone in several groups, with no group chosen yet, is answered with
one button per group. The tap remembers the choice for the conversation
(`bot.context.ChosenGroup` in their `user_data`: it lives while they keep writing, memory
only) and carries on with the command as if it had been sent in that group. From then on
their private updates are that group's (`bot.app.group_of_update`), until the choice lapses
or they send `/group` to choose again. Someone in one group (nearly everyone) never sees
any of this.

The buttons carry the group's key (`groups.button_key`), never its row id, and act only for
someone who is in that group, in their own private chat.
"""

from __future__ import annotations

import contextlib
import logging
import re
from enum import StrEnum
from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import PeerContext, current_group
from bot.domain import groups
from bot.i18n import N_
from handlers import conversation
from handlers.callbacks import STALE, Callbacks, Invalid, answer
from handlers.common import reply, texts_for
from handlers.group_names import title_of

if TYPE_CHECKING:
    from bot.context import Services
    from storage.models import Group

log = logging.getLogger(__name__)

# Commands that are about no one group: the rest ask which group when it is not clear.
NO_GROUP_NEEDED = frozenset({"start", "help", "setup", "overview", "cancel", "group"})
# Before everything else in private, the conversation's sweep note (-4) included.
GROUP = -5

WHICH = N_("You are in more than one group. Which group is this about?")
CHOSEN = N_(
    "All right: {group}. I'll keep to that group while we write together. Send /group to "
    "choose another."
)
ONLY_ONE = N_("You are only in {group}, so there is nothing to choose.")


class ChoiceAction(StrEnum):
    PICK = "pick"


BUTTONS = Callbacks("grp", ChoiceAction)

_KEY = re.compile(r"^[A-Za-z0-9_-]{8}$")


def KEY(raw: str) -> str:
    """A group's key as `groups.button_key` makes it."""
    if not _KEY.match(raw):
        raise Invalid(raw)
    return raw


def _command_of(update: Update) -> str:
    message = update.effective_message
    text = message.text if message is not None and message.text else ""
    return text.split()[0].lstrip("/").split("@")[0].lower() if text else ""


async def _titled(context: PeerContext, member: list[Group]) -> list[tuple[str, str]]:
    """(title, key) of each group."""
    return [(await title_of(context, g), groups.button_key(g)) for g in member]


async def offer_choice(update: Update, context: PeerContext, member: list[Group]) -> None:
    _ = texts_for(context, update)
    keyboard = [
        [InlineKeyboardButton(title, callback_data=BUTTONS.encode(ChoiceAction.PICK, key))]
        for title, key in await _titled(context, member)
    ]
    await reply(update, _(WHICH), reply_markup=InlineKeyboardMarkup(keyboard))


async def ask_which_group(update: Update, context: PeerContext) -> None:
    """Before any private command, or text that answers no question (pasted minutes):
    someone in several groups with no live choice is asked which group; the message
    waits for the answer (and goes no further now)."""
    user, scope = update.effective_user, current_group.get()
    # Someone in one group (nearly everyone) goes on at once: the update's group, read
    # before the handlers, says whether its sender is in several (`marks_buttons`).
    if scope is None or not scope.marks_buttons or user is None or context.user_data is None:
        return
    message = update.effective_message
    if message is not None and (message.text or "").startswith("/"):
        # `/start pause` (the link the group's answer to /pause gives) needs a group.
        deep_link = _command_of(update) == "start" and len((message.text or "").split()) > 1
        if _command_of(update) in NO_GROUP_NEEDED and not deep_link:
            return
    elif conversation.live_flow(context):
        return  # a typed answer: its flow's group (bot.app.group_of_update)
    if conversation.chosen(context) is not None:
        return
    member = await groups.groups_of_member(context.session, user.id)
    if len(member) <= 1:
        return
    conversation.hold_command(context, update)
    await offer_choice(update, context, member)
    raise ApplicationHandlerStop


async def group_command(update: Update, context: PeerContext) -> None:
    """`/group`: choose (again) which group this private conversation is about."""
    user = update.effective_user
    if user is None:
        return
    member = await groups.groups_of_member(context.session, user.id)
    if len(member) > 1:
        conversation.take_command(context)  # an older command no longer waits
        await offer_choice(update, context, member)
        return
    _ = texts_for(context, update)
    if member:
        await reply(update, _(ONLY_ONE).format(group=await title_of(context, member[0])))


@BUTTONS.route(ChoiceAction.PICK, KEY)
async def on_pick(update: Update, context: PeerContext, key: str) -> None:
    """A group chosen: remembered for the conversation, and the waiting command goes on
    in that group."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    member = await groups.groups_of_member(context.session, user.id)
    group = next((g for g in member if groups.button_key(g) == key), None)
    if group is None:  # no longer in it
        await answer(update, context, STALE)
        return
    now = context.services.clock.now()
    conversation.choose_group(context, group.id)
    # From here on this update is the chosen group's, as the next ones will be.
    current_group.set(
        await groups.scope_of(context.session, group, now, marks_buttons=len(member) > 1)
    )
    _ = texts_for(context, update)
    with contextlib.suppress(TelegramError):
        await query.answer()
    waiting = conversation.take_command(context)
    title = await title_of(context, group)
    with contextlib.suppress(TelegramError):  # an old message can't be edited
        await query.edit_message_text(_(CHOSEN).format(group=title))
    if waiting is not None:
        await carry_on(context.application, waiting)


async def carry_on(application: Application, update: Update) -> None:
    """Handle the waiting command now, in the chosen group (this tap's update and
    transaction), as the Application would have: the first matching handler of each
    handler group after this one, until one stops it."""
    for number in sorted(application.handlers):
        if number <= GROUP:
            continue
        for handler in application.handlers[number]:
            check = handler.check_update(update)
            if check is None or check is False:
                continue
            context = application.context_types.context.from_update(update, application)
            await context.refresh_data()
            try:
                await handler.handle_update(update, application, check, context)
            except ApplicationHandlerStop:
                return
            break


def register(application: Application, services: Services) -> None:
    del services
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & (filters.COMMAND | filters.TEXT | filters.Document.ALL),
            ask_which_group,
        ),
        group=GROUP,
    )
    application.add_handler(
        CommandHandler("group", group_command, filters=filters.ChatType.PRIVATE)
    )
    application.add_handler(CallbackQueryHandler(BUTTONS.dispatch, pattern=BUTTONS.pattern))
