"""`/pause`: a private, kind way to ask for a break, which tells the coordinator and keeps in
touch. Also `/resume`, the coordinator's `/pausevolunteer` and `/resumevolunteer`, and the
scheduled check-ins.

The flow is a `PauseFlow` (handlers/conversation.py, memory only) driven by
buttons "pause:..." and, where asked, a typed date or message. The message to the
coordinator lives in that in-memory state until the pause starts, then sealed on the pause
row only until every coordinator's notice is done (sent through the outbox, also after a restart).

The parts: `common` (texts, keyboards, renderings), `volunteer` (the private
flow), `coordinator` (`/pausevolunteer`, `/resumevolunteer`), `checkins` (the scheduler
pass), `notices` (what goes out through the outbox: the coordinators' notices and the
readiness question), `group` (pause commands typed in the group).
"""

from __future__ import annotations

from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import Services
from handlers import conversation
from handlers.pause.checkins import run_due
from handlers.pause.common import COMMANDS, TYPED_STEPS, PauseFlow
from handlers.pause.coordinator import pause_volunteer_command, resume_volunteer_command
from handlers.pause.group import pause_in_group, resume_in_group
from handlers.pause.notices import register_kinds
from handlers.pause.volunteer import (
    pause_command,
    resume_command,
    start_pause_link,
    typed,
)
from handlers.pause_buttons import BUTTONS

__all__ = ["COMMANDS", "register", "run_due"]


def register(application: Application, services: Services) -> None:
    register_kinds(application)
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
        MessageHandler(
            filters.TEXT
            & ~filters.COMMAND
            & conversation.AwaitingText(application, {PauseFlow: TYPED_STEPS}),
            typed,
        )
    )
