"""Who is in the group: join and leave updates, other groups, and the supergroup upgrade."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from telegram import ChatMemberUpdated, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    ChatMemberHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import PeerContext, Services
from bot.domain import matches, people, rights
from bot.i18n import texts
from handlers.common import MEMBER_STATUSES, MEMBERSHIP_FRESH, telegram_person
from handlers.delivery import coordinator_recipients, follow_migration, send_private

if TYPE_CHECKING:
    from storage.models import Person

log = logging.getLogger(__name__)

GROUP_TYPES = {ChatType.GROUP, ChatType.SUPERGROUP, ChatType.CHANNEL}
GONE = {ChatMemberStatus.LEFT, ChatMemberStatus.BANNED}


def membership_change(change: ChatMemberUpdated) -> tuple[bool, bool]:
    """(was a member, is a member) from a chat_member update."""

    def inside(member: object) -> bool:
        status = getattr(member, "status", None)
        if status == ChatMemberStatus.RESTRICTED:
            return bool(getattr(member, "is_member", False))
        return status in MEMBER_STATUSES

    return inside(change.old_chat_member), inside(change.new_chat_member)


# Telegram's word that someone is in the group, by Telegram user id: when it was last given
# (a getChatMember answer or a join). Shared with `handlers.common.still_in_group`.
SEEN = "member_seen"


def confirmed_lately(context: PeerContext, user_id: int, now: datetime) -> bool:
    """Whether Telegram said less than MEMBERSHIP_FRESH ago that this person is in the group
    (every way of leaving forgets it: see `forget_confirmed`)."""
    last = context.application.bot_data.get(SEEN, {}).get(_seen_key(context, user_id))
    return last is not None and timedelta(0) <= now - last < MEMBERSHIP_FRESH


def _seen_key(context: PeerContext, user_id: int) -> tuple[int, int]:
    """In this group (the update's), not in another one."""
    return (context.services.group_id, user_id)


def remember_confirmed(context: PeerContext, user_id: int, now: datetime) -> None:
    context.application.bot_data.setdefault(SEEN, {})[_seen_key(context, user_id)] = now


def forget_confirmed(context: PeerContext, user_id: int) -> None:
    context.application.bot_data.get(SEEN, {}).pop(_seen_key(context, user_id), None)


async def guard_other_chats(update: Update, context: PeerContext) -> None:
    """The bot works only in its groups: anywhere else it says so once and leaves; a group
    an association admin (ADMIN_IDS) adds waits, quietly, for their /setup."""
    chat = update.effective_chat
    services = context.services
    if chat is None or chat.type not in GROUP_TYPES or chat.id == services.group_chat_id:
        return
    message = update.effective_message
    if message is not None and message.migrate_from_chat_id == services.group_chat_id:
        await follow_migration(context, chat.id)
        return
    if update.my_chat_member and update.my_chat_member.new_chat_member.status in GONE:
        raise ApplicationHandlerStop  # we already left (or were removed): nothing to say
    user = update.effective_user
    if user is not None and services.settings.is_admin(user.id) and chat.type != ChatType.CHANNEL:
        # An association admin brings the bot to a new group: it stays for /setup.
        message = update.effective_message
        if message is not None and (message.text or "").split("@")[0].split(" ")[0] == "/setup":
            return
        if update.my_chat_member is not None:
            _ = context.texts(services.settings.language)
            await chat.send_message(
                _(
                    "Hi! To register this group, answer a message of its coordinator with "
                    "/setup, or write /setup followed by the coordinators' Telegram user ids."
                )
            )
        raise ApplicationHandlerStop
    if services.settings.admin_ids and update.my_chat_member is None:
        # Perhaps a group an admin added and has not set up yet: quiet until /setup (a
        # group added by anyone else is left as soon as the bot is added, below).
        raise ApplicationHandlerStop
    _ = context.texts()
    log.info("leaving a chat that is not the configured group")
    try:
        if chat.type != ChatType.CHANNEL:
            await chat.send_message(
                _(
                    "Hi! I am the helper of one particular volunteers' group and only work "
                    "there, so I will leave this chat now."
                )
            )
        await chat.leave()
    except TelegramError as error:
        log.warning("could not leave a foreign chat: %s", type(error).__name__)
    raise ApplicationHandlerStop


async def member_changed(update: Update, context: PeerContext) -> None:
    """Keep the list of volunteers current from Telegram's chat_member updates."""
    change = update.chat_member
    assert change is not None
    was, now_inside = membership_change(change)
    services = context.services
    user = change.new_chat_member.user
    if user.is_bot or was == now_inside:
        return
    now = services.clock.now()
    if now_inside:
        remember_confirmed(context, user.id, now)
        await people.record_member(
            context.session, services.group_id, telegram_person(context, user), now
        )
    else:
        forget_confirmed(context, user.id)
        person = await people.find_person(context.session, services.group_id, user.id)
        if person is not None:
            await member_gone(context, person=person)


async def member_gone(context: PeerContext, *, person: Person) -> None:
    """Someone left the group (told by Telegram, or noticed at their next command): they
    stop being a volunteer, their row goes after the retention period (RETENTION_LEFT_DAYS),
    and the coordinators hear which of their matches now need a volunteer."""
    services = context.services
    now = services.clock.now()
    forget_confirmed(context, person.telegram_user_id)
    if not person.is_member:
        return
    on = await matches.matches_for_person(context.session, services.group_id, person.id, now)
    # Only the matches nobody else can take: a shared one goes on with the others.
    labels = await rights.uncovered_without(context.session, services.group_id, person.id, now)
    await people.record_left(context.session, services.group_id, person.telegram_user_id, now)
    if not on:
        return
    for coordinator_id in await coordinator_recipients(context, context.session):
        coordinator = await people.find_person(context.session, services.group_id, coordinator_id)
        _ = texts(coordinator.language if coordinator else services.language)
        needing = (
            _("Matches that now need a volunteer ({count}): {labels}").format(
                count=len(labels), labels=", ".join(labels)
            )
            if labels
            else _("No match is left without a volunteer.")
        )
        text = "\n".join(
            [_("{name} is no longer in the group.").format(name=person.first_name), needing]
        )
        await send_private(context.bot, coordinator_id, text)


async def group_migrated(update: Update, context: PeerContext) -> None:
    """Our group became a supergroup with a new id."""
    message = update.effective_message
    if message is not None and message.migrate_to_chat_id:
        await follow_migration(context, message.migrate_to_chat_id)


def register(application: Application, services: Services) -> None:
    services.on("member_gone", member_gone)
    application.add_handler(TypeHandler(Update, guard_other_chats), group=-10)
    application.add_handler(
        ChatMemberHandler(member_changed, ChatMemberHandler.CHAT_MEMBER), group=-5
    )
    application.add_handler(MessageHandler(filters.StatusUpdate.MIGRATE, group_migrated), group=-5)
