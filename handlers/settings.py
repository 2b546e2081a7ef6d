"""`/settings`: one menu that leads to each feature's own settings.

Features add their section with `add_section` in their `register`; a section is a button
whose callback data (e.g. "reminders:settings") the feature handles itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import PeerContext, Services
from bot.i18n import N_
from handlers.common import (
    CommandInfo,
    is_coordinator,
    keyboard,
    private_only,
    reply,
    texts_for,
    volunteer_only,
)

COMMANDS = [CommandInfo("settings", N_("Your settings"), "volunteer")]


@dataclass(frozen=True)
class Section:
    label: str  # an N_() English id
    callback_data: str
    coordinator_only: bool = False


def add_section(services: Services, section: Section) -> None:
    services.settings_sections.append(section)


def sections(services: Services) -> list[Section]:
    return list(services.settings_sections)


@private_only
@volunteer_only
async def settings_menu(update: Update, context: PeerContext) -> None:
    """Show the sections this person may change."""
    _ = texts_for(context, update)
    # The group's own settings are for its coordinators, not for a stand-in.
    coordinator = is_coordinator(context, update)
    allowed = [s for s in sections(context.services) if coordinator or not s.coordinator_only]
    if not allowed:
        await reply(update, _("There is nothing to set up here yet."))
        return
    buttons = [(_(s.label), s.callback_data) for s in allowed]
    await reply(update, _("What would you like to change?"), reply_markup=keyboard(*buttons))


def register(application: Application, services: Services) -> None:
    application.add_handler(CommandHandler("settings", settings_menu))
