"""Pause commands typed in the group: never echoed. The message is deleted if we may, and
answered only with a neutral invitation to the private chat."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError

from bot.context import PeerContext
from handlers.common import deep_link, reply, texts_for

log = logging.getLogger(__name__)


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
