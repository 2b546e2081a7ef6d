"""`/volunteers`: the coordinator's list of who is in the group and who can be reached."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import PeerContext, Services
from bot.domain import people
from bot.i18n import N_
from handlers.common import CommandInfo, coordinator_only, private_only, reply, texts_for

COMMANDS = [
    CommandInfo("volunteers", N_("Everyone in the group, and who I can reach"), "coordinator")
]


@private_only
@coordinator_only
async def list_volunteers(update: Update, context: PeerContext) -> None:
    """One line per member: paused, or not yet reachable in private."""
    _ = texts_for(context, update)
    services = context.services
    members = await people.volunteers(context.session, services.group_id)
    paused = await people.paused_person_ids(
        context.session, services.group_id, services.clock.now()
    )
    if not members:
        await reply(
            update,
            _(
                "I don't know anyone in the group yet. People appear here when "
                "they join the group or send me /start."
            ),
        )
        return
    lines = [_("Volunteers in the group ({count}):").format(count=len(members))]
    for person in members:
        notes = []
        if person.id in paused:
            notes.append(_("on a pause"))
        if person.blocked_bot:
            notes.append(_("has blocked me"))
        elif not person.started_bot:
            notes.append(_("hasn't started a chat with me yet"))
        suffix = f" ({', '.join(notes)})" if notes else ""
        lines.append(f"• {person.first_name}{suffix}")
    await reply(update, "\n".join(lines))


def register(application: Application, services: Services) -> None:
    application.add_handler(CommandHandler("volunteers", list_volunteers))
