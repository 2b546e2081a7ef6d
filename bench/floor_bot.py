"""The floor: the least a python-telegram-bot v22 bot can be. It answers `/ping` (with one
inline button) and answers a tap on that button; everything else, poll answers included,
passes through the Application with no handler. PeerBot's costs are measured against it.

    TELEGRAM_BOT_TOKEN=... TELEGRAM_BASE_URL=http://127.0.0.1:<port>/bot python bench/floor_bot.py

Both variables are required: the floor only ever talks to the fake Bot API server.
"""

from __future__ import annotations

import os
import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

AGAIN = InlineKeyboardMarkup([[InlineKeyboardButton("Igen", callback_data="ping:again")]])


async def ping(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await update.effective_chat.send_message("pong", reply_markup=AGAIN)


async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()


def main() -> int:
    token = os.environ.get("TELEGRAM_BOT_TOKEN")
    base_url = os.environ.get("TELEGRAM_BASE_URL")
    if not token or not base_url:
        print("TELEGRAM_BOT_TOKEN and TELEGRAM_BASE_URL are required", file=sys.stderr)
        return 2
    application = ApplicationBuilder().token(token).base_url(base_url).build()
    application.add_handler(CommandHandler("ping", ping))
    application.add_handler(CallbackQueryHandler(tapped))
    application.run_polling(allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
