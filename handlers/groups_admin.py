"""The association admins (ADMIN_IDS): `/setup` in a new group registers it and names its
coordinators; `/overview` in private shows each group in counts, never a name."""

from __future__ import annotations

import logging

from telegram import MessageEntity, Update
from telegram.constants import ChatType
from telegram.ext import Application, CommandHandler

from bot.context import PeerContext, Services, current_group
from bot.domain import groups
from bot.i18n import ngettext
from handlers.common import is_private, reply, texts_for

log = logging.getLogger(__name__)

GROUP_CHATS = {ChatType.GROUP, ChatType.SUPERGROUP}


def is_admin(context: PeerContext, update: Update) -> bool:
    user = update.effective_user
    return user is not None and context.services.settings.is_admin(user.id)


def named_coordinators(update: Update, arguments: list[str]) -> list[int] | None:
    """The coordinators the admin named: the sender of the message /setup answers, people
    mentioned without a username (Telegram gives their id), and typed user ids. None when
    an argument is neither."""
    message = update.effective_message
    found: list[int] = []
    if message is not None:
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None and not replied.from_user.is_bot:
            found.append(replied.from_user.id)
        for entity in message.entities or ():
            if entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
                found.append(entity.user.id)
    mentioned = {e.user.first_name for e in (message.entities if message else ()) or () if e.user}
    for argument in arguments:
        if argument in mentioned:
            continue  # the visible name of a mention, already counted by its id
        try:
            found += groups.parse_user_ids([argument])
        except ValueError:
            return None
    return list(dict.fromkeys(found))


async def setup(update: Update, context: PeerContext) -> None:
    """`/setup` in a group, by an admin: register the group (or change its coordinators)."""
    chat = update.effective_chat
    if chat is None or chat.type not in GROUP_CHATS or not is_admin(context, update):
        return  # anyone else's /setup is not a command here (membership's guard left it)
    services = context.services
    coordinators = named_coordinators(update, list(context.args or []))
    new_here = current_group.get() is None
    _ = context.texts(services.settings.language if new_here else services.language)
    if not coordinators:
        await reply(
            update,
            _(
                "To register this group, answer a message of its coordinator with /setup, "
                "or write /setup followed by the coordinators' Telegram user ids."
            ),
        )
        return
    now = services.clock.now()
    group = await groups.add_group(
        context.session,
        chat.id,
        now,
        coordinator_ids=coordinators,
        timezone=services.settings.timezone if new_here else None,
        language=services.settings.language if new_here else None,
        title=chat.title,
    )
    current_group.set(await groups.scope_of(context.session, group, now))
    log.info("group row %s registered by an admin (%s coordinators)", group.id, len(coordinators))
    await reply(
        update,
        ngettext(
            group.language,
            "This group is registered, with {count} coordinator. Everyone opens a private "
            "chat with me and sends /start.",
            "This group is registered, with {count} coordinators. Everyone opens a private "
            "chat with me and sends /start.",
            len(coordinators),
        ).format(count=len(coordinators)),
    )

    async def _menus() -> None:
        from handlers.start import publish_command_menus

        await publish_command_menus(context.application)

    context.after_commit_await(_menus)


async def overview(update: Update, context: PeerContext) -> None:
    """`/overview` in private, for an admin: each group in numbers only."""
    if not is_private(update) or not is_admin(context, update):
        return
    _ = texts_for(context, update)
    found = await groups.counts(context.session, context.services.clock.now())
    if not found:
        await reply(update, _("No group is registered yet. Add me to one and send /setup there."))
        return
    lines = [_("Every group in numbers (no names):")]
    for group in found:
        lines.append(
            _(
                "Group {chat_id}: volunteers {volunteers} · active matches {matches} · on a "
                "pause {pauses} · volunteer meetings held {meetings} · waiting for a match "
                "{waiting}"
            ).format(
                chat_id=group.chat_id,
                volunteers=group.volunteers,
                matches=group.active_matches,
                pauses=group.pauses_going_on,
                meetings=group.meetings_held,
                waiting=group.waiting_for_a_match,
            )
        )
    await reply(update, "\n".join(lines))


def register(application: Application, services: Services) -> None:
    application.add_handler(CommandHandler("setup", setup))
    application.add_handler(CommandHandler("overview", overview))
