"""Naming the group to someone in several groups, in private: the first line of what the
bot sends them says which group it is from, and its buttons act for that group. Asked by
the outbox sender (`for_whom`) and by `tell_coordinators` (handlers/delivery.py), the two
ways every feature's private messages leave; someone in one group (nearly everyone) gets
the texts as they were."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TelegramError

from bot.context import PeerContext, current_group
from bot.domain import groups, people
from bot.i18n import N_

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.domain import outbox
    from bot.domain.groups import GroupScope
    from handlers.delivery import Outgoing
    from storage.models import Group

log = logging.getLogger(__name__)

FROM_GROUP = N_("From {group}:")


async def group_header(
    context: PeerContext, session: AsyncSession, user_id: int, language: str
) -> str:
    """The first line of a private message to someone in several groups, naming the group
    it is from ("" for someone in one group: nearly everyone, and their texts stay as they
    were). The group's title is asked of Telegram when the bot has not seen it yet.
    `session`: for reading only (written here, an SQLite transaction would hold the write
    lock through the sending)."""
    if not await groups.in_several_groups(session, user_id):
        return ""
    scope = context.services.group
    if scope is None:
        return ""
    _ = context.texts(language)
    return _(FROM_GROUP).format(group=await title_of(context, scope))


async def title_of(context: PeerContext, group: Group | GroupScope) -> str:
    """How a group is named to people: its title, asked of Telegram when the bot has not
    seen the group since it was added (stored when it next sees it; for the update's own
    group kept for the rest of this work)."""
    if group.title is not None:
        return group.title
    try:
        chat = await context.bot.get_chat(group.chat_id)
    except TelegramError as error:
        log.info("the group's title is not known: %s", type(error).__name__)
        return groups.title_of(group)
    if not chat.title:
        return groups.title_of(group)
    scope = current_group.get()
    if scope is not None and scope.id == group.id:
        current_group.set(dataclasses.replace(scope, title=chat.title))
    return chat.title


def marked(markup: Any, services: Any) -> Any:
    """Buttons for someone in several groups name the group they were made for, so a tap
    acts there (`groups.mark_data`); buttons already marked, or with no room left within
    Telegram's 64 bytes, stay as they are."""
    scope = services.group
    if not isinstance(markup, InlineKeyboardMarkup) or scope is None:
        return markup
    rows = []
    for row in markup.inline_keyboard:
        buttons = []
        for button in row:
            data = button.callback_data
            if isinstance(data, str) and groups.split_data(data)[1] is None:
                tagged = groups.mark_data(data, scope.key)
                if len(tagged.encode()) <= 64:
                    button = InlineKeyboardButton(button.text, callback_data=tagged)
            buttons.append(button)
        rows.append(buttons)
    return InlineKeyboardMarkup(rows)


async def for_whom(
    context: PeerContext, session: AsyncSession, claim: outbox.Claim, outgoing: Outgoing
) -> Outgoing:
    """An item to a private chat of someone in several groups: its first line names the
    group, its buttons act for it. The one place every feature's private messages pass."""
    if outgoing.chat_id <= 0:  # a group, or the feature tells the coordinators itself
        return outgoing
    person = None
    if claim.person_id is not None:
        person = await people.member_by_id(session, context.services.group_id, claim.person_id)
    if person is None or person.telegram_user_id != outgoing.chat_id:
        person = await people.find_person(session, context.services.group_id, outgoing.chat_id)
    language = person.language if person is not None else context.services.language
    header = await group_header(context, session, outgoing.chat_id, language)
    if not header:
        return outgoing
    if outgoing.send is not None:  # a copy: its own words can't change, the line goes first
        return dataclasses.replace(outgoing, header=header)
    return dataclasses.replace(
        outgoing,
        text=f"{header}\n{outgoing.text}",
        reply_markup=marked(outgoing.reply_markup, context.services),
    )


async def named(
    context: PeerContext,
    session: AsyncSession | None,
    user_id: int,
    language: str,
    text: str,
    kwargs: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """A message sent straight to one person (not through the outbox: `tell_coordinators`,
    `send_to_person`), named and its buttons marked for someone in several groups; as it
    was for everyone else. `session`: the caller's, or None: the update's if any, else a
    short one to read in."""
    if session is None:
        with contextlib.suppress(RuntimeError):  # RuntimeError: not in an update
            session = context.session
    if session is None:
        async with context.services.db.transaction() as own:
            header = await group_header(context, own, user_id, language)
    else:
        header = await group_header(context, session, user_id, language)
    if not header:
        return text, kwargs
    markup = marked(kwargs.get("reply_markup"), context.services)
    return f"{header}\n{text}", {**kwargs, "reply_markup": markup}
