"""What every feature's handlers share: who is asking, in which chat, in which language."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, User
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, ChatMigrated, TelegramError

from bot.context import PeerContext, current_group
from bot.domain import away, groups, people
from bot.i18n import N_, Translate, pick_language
from handlers.delivery import follow_migration, send_in_parts

if TYPE_CHECKING:
    from storage.models import Person

log = logging.getLogger(__name__)

Handler = Callable[[Update, PeerContext], Awaitable[None]]

MEMBER_STATUSES = {
    ChatMemberStatus.OWNER,
    ChatMemberStatus.ADMINISTRATOR,
    ChatMemberStatus.MEMBER,
}


@dataclass(frozen=True)
class CommandInfo:
    """A command for the menus and `/help`. The description is an `N_()` English id."""

    name: str
    description: str
    audience: Literal["volunteer", "coordinator", "group"]
    # A coordinator's command the stand-in also has while standing in (`/away`): the
    # everyday ones. Not the rights over people's data, nor the group's own settings.
    stand_in: bool = True


def language_of(context: PeerContext, user: User | None) -> str:
    default = context.services.language
    return pick_language(user.language_code if user else None, default)


def reply_language(context: PeerContext, update: Update) -> str:
    """The language of a reply: in private the sender's; in the group always the group's,
    so nobody is singled out by an answer in another language."""
    if is_private(update) or update.effective_chat is None:
        return language_of(context, update.effective_user)
    return context.services.language


def texts_for(context: PeerContext, update: Update) -> Translate:
    """The translate function for a reply to this update (see `reply_language`)."""
    return context.texts(reply_language(context, update))


def telegram_person(context: PeerContext, user: User) -> people.TelegramPerson:
    return people.TelegramPerson(
        user_id=user.id,
        first_name=user.first_name,
        username=user.username,
        language=language_of(context, user),
        is_coordinator=context.services.is_coordinator(user.id),
    )


def is_private(update: Update) -> bool:
    return update.effective_chat is not None and update.effective_chat.type == ChatType.PRIVATE


def is_coordinator(context: PeerContext, update: Update) -> bool:
    """A coordinator: the rights over people's data (`/mydata @`, `/forgetme @`) ask this."""
    user = update.effective_user
    return user is not None and context.services.is_coordinator(user.id)


async def acts_as_coordinator(context: PeerContext, user_id: int | None) -> bool:
    """The coordinator's everyday rights (cover, pauses, meetings, minutes, broadcasts): a
    coordinator, or their stand-in while they are away (`bot.domain.away`)."""
    if user_id is None:
        return False
    services = context.services
    # The update's group's coordinators at no cost (read with the group); else a stand-in,
    # asked of the database. Never COORDINATOR_IDS: that is one group's, not every group's.
    if services.is_coordinator(user_id):
        return True
    # The update's own group was read with its coordinators at the update's start: no need
    # to read them again (the group a process started with may have changed since).
    known = services.coordinator_ids if current_group.get() is not None else None
    return await away.can_act_as_coordinator(
        context.session, services.group_id, user_id, known, services.clock.now()
    )


def deep_link(context: PeerContext, payload: str = "") -> str:
    username = context.services.bot_username or context.bot.username
    return f"https://t.me/{username}" + (f"?start={payload}" if payload else "")


def private_chat_button(
    context: PeerContext, label: str, payload: str = ""
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, url=deep_link(context, payload))]])


Button = tuple[str, str]  # (label, callback data)


def keyboard(*rows: Button | list[Button]) -> InlineKeyboardMarkup:
    """Buttons under a message: each argument is a row, one button or a list of them."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            if isinstance(row, list)
            else [InlineKeyboardButton(row[0], callback_data=row[1])]
            for row in rows
        ]
    )


async def reply(update: Update, text: str, **kwargs: object) -> None:
    """Answer in the chat the update came from."""
    assert update.effective_chat is not None
    await send_in_parts(update.effective_chat.send_message, text, **kwargs)


def private_only(handler: Handler) -> Handler:
    """Used in a group, point gently to the private chat instead of answering there."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: PeerContext) -> None:
        if is_private(update):
            await handler(update, context)
            return
        await talk_privately_instead(update, context)

    return wrapper


async def talk_privately_instead(update: Update, context: PeerContext) -> None:
    """A private-only command typed in the group: removed when the bot may, and answered
    with one neutral invitation, the same for every such command (`/pause`, `/mydata
    @anna`, ...), so the answer never tells the group what was asked."""
    message = update.effective_message
    assert message is not None
    _ = texts_for(context, update)
    deleted = False
    try:
        deleted = await message.delete()
    except BadRequest:
        deleted = False  # too old, or the bot may not delete here
    except TelegramError as error:
        log.warning("could not delete a group message: %s", type(error).__name__)
    text = _("Let's talk privately. Tap the button to open our private chat.")
    if not deleted:
        text += "\n" + _("You are welcome to delete your message here in the group.")
    await reply(update, text, reply_markup=private_chat_button(context, _("Open a private chat")))


def coordinator_only(handler: Handler) -> Handler:
    """Coordinator commands (also for a stand-in, `acts_as_coordinator`) answer everyone
    else with a polite no."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: PeerContext) -> None:
        user = update.effective_user
        if await acts_as_coordinator(context, user.id if user else None):
            await handler(update, context)
            return
        _ = texts_for(context, update)
        back = await coordinator_back(context, user.id) if user and is_private(update) else None
        if back is not None:
            await reply(
                update,
                _(
                    "{coordinator} is back, so only the coordinator can use that command "
                    "again. Thank you for standing in!"
                ).format(coordinator=back),
            )
            return
        await reply(update, _("Sorry, only the coordinator can use that command."))

    return wrapper


async def coordinator_back(context: PeerContext, user_id: int) -> str | None:
    """The first name of the coordinator this person stood in for lately, now back (a
    former stand-in's command or late tap gets a kind word); None otherwise."""
    services = context.services
    session = context.session
    period = await away.stood_in_lately(session, services.group_id, user_id, services.clock.now())
    if period is None:
        return None
    coordinator = await people.member_by_id(session, services.group_id, period.coordinator_id)
    return coordinator.first_name if coordinator is not None else None


def group_coordinator_only(handler: Handler) -> Handler:
    """The group's own settings (meeting defaults, crisis help, the weekly overview): one
    of the group's coordinators only, never a stand-in; everyone else a polite no."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: PeerContext) -> None:
        if is_coordinator(context, update):
            await handler(update, context)
            return
        _ = texts_for(context, update)
        await reply(update, _("Sorry, only the coordinator can use that command."))

    return wrapper


async def is_group_member(context: PeerContext, user_id: int) -> bool:
    """Ask Telegram whether someone is in the volunteers' group right now."""
    try:
        member = await context.bot.get_chat_member(context.services.group_chat_id, user_id)
    except ChatMigrated as error:  # upgraded to a supergroup while we weren't looking
        await follow_migration(context, error.new_chat_id)
        member = await context.bot.get_chat_member(context.services.group_chat_id, user_id)
    if member.status in MEMBER_STATUSES:
        return True
    return member.status == ChatMemberStatus.RESTRICTED and bool(
        getattr(member, "is_member", False)
    )


async def find_newcomers_group(context: PeerContext, user_id: int) -> bool:
    """Someone no group knows yet writes in private: ask Telegram which served group they
    are in and make it this update's group (`current_group`). True if one was found."""
    if current_group.get() is not None:
        return False  # known somewhere: their group is already this update's
    now = context.services.clock.now()
    for group in await groups.all_groups(context.session):
        if group.id == context.services.group_id:
            continue  # asked already
        current_group.set(await groups.scope_of(context.session, group, now))
        try:
            if await is_group_member(context, user_id):
                return True
        except TelegramError as error:
            log.info("membership not confirmed: %s", type(error).__name__)
    current_group.set(None)
    return False


async def current_person(context: PeerContext, update: Update) -> Person | None:
    """The registered person behind this update, if they are still in the group (confirmed
    with Telegram now and then: see `still_in_group`)."""
    user = update.effective_user
    if user is None:
        return None
    person = await people.find_person(context.session, context.services.group_id, user.id)
    if person is None or not person.is_member:
        return None
    return person if await still_in_group(context, person) else None


# How long Telegram's word that someone is in the group is trusted before asking again.
MEMBERSHIP_FRESH = timedelta(minutes=5)


async def still_in_group(context: PeerContext, person: Person) -> bool:
    """Whether a person the database counts as a member still is one. A removal whose
    chat_member update the bot missed is noticed here: the person is then treated as having
    left (event `member_gone`, handled in handlers/membership.py)."""
    services = context.services
    if person.telegram_user_id in services.coordinator_ids:
        return True
    now = services.clock.now()
    seen = (person.group_id, person.telegram_user_id)  # in this group, not in another
    checked: dict[tuple[int, int], datetime] = context.application.bot_data.setdefault(
        "member_seen", {}
    )
    last = checked.get(seen)
    if last is not None and timedelta(0) <= now - last < MEMBERSHIP_FRESH:
        return True
    try:
        inside = await is_group_member(context, person.telegram_user_id)
    except TelegramError as error:  # Telegram unreachable: trust the database this time
        log.info("membership not confirmed: %s", type(error).__name__)
        return True
    if inside:
        checked[seen] = now
        return True
    checked.pop(seen, None)
    await services.emit("member_gone", context, person=person)
    return False


def volunteer_only(handler: Handler) -> Handler:
    """For commands of the group's volunteers: anyone else is asked to /start first."""

    @functools.wraps(handler)
    async def wrapper(update: Update, context: PeerContext) -> None:
        person = await current_person(context, update)
        if person is not None and person.started_bot:
            await handler(update, context)
            return
        _ = texts_for(context, update)
        await reply(update, _(NOT_REGISTERED))

    return wrapper


NOT_REGISTERED = N_(
    "I don't know you yet. Send /start so I can check that you are in the volunteers' group."
)
