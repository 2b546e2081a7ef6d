"""What happens when a handler fails: a kind word to the person, a log line without content."""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application

from bot.context import PeerContext, Services

log = logging.getLogger(__name__)


async def on_error(update: object, context: PeerContext) -> None:
    """Log the error's type and where (never texts or names), and tell the person kindly."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    log.error(
        "handling update %s failed: %s",
        update_id,
        type(error).__name__,
        exc_info=(type(error), error, error.__traceback__) if error else None,
    )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != ChatType.PRIVATE:
        return
    _ = context.texts()
    with contextlib.suppress(TelegramError):  # Telegram itself may be what failed
        await update.effective_chat.send_message(
            _("Sorry, something went wrong on my side. Please try again in a moment.")
        )


def register(application: Application, services: Services) -> None:
    application.add_error_handler(on_error)
