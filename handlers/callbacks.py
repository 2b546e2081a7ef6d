"""Typed button data: per feature one enum of actions, `encode`/`decode`, and one dispatch
table that also checks who may tap and where.

Button data is `<feature>:<action>[:<arg>...]`, at most 64 bytes (Telegram's limit). Anyone
with a modified client can send any string, so `decode` accepts only what `encode` could
have made: the known action with exactly its arguments, each of its type. Anything else is
answered with a kind "this button is no longer valid", never the error path.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any, Generic, TypeVar

from telegram import CallbackQuery, Update
from telegram.constants import ChatType
from telegram.error import TelegramError

from bot.context import PeerContext, current_group
from bot.domain import confirmations, groups
from bot.domain.confirmations import Refusal
from bot.i18n import N_
from handlers.common import acts_as_coordinator, coordinator_back, language_of

log = logging.getLogger(__name__)

MAX_BYTES = 64
# The largest id a database integer column holds; longer digit strings are not ids.
MAX_ID = 2**63 - 1

STALE = N_("This button is no longer valid. Please start again from the command.")
NOT_YOURS = N_("This button is not for you.")
ONLY_COORDINATOR = N_("Sorry, only the coordinator can use that command.")
REFUSALS = {
    Refusal.UNKNOWN: N_(
        "There is nothing left to do here: this is about someone or something no longer here."
    ),
    Refusal.USED: N_("That has already been done; this button is used up."),
    Refusal.EXPIRED: N_(
        "This question is more than a day old, so I have done nothing. Please ask again with "
        "the command."
    ),
    Refusal.SUPERSEDED: N_(
        "You asked again later, so I have done nothing with this older question. Please use "
        "the newest one."
    ),
    Refusal.NOT_YOURS: NOT_YOURS,
}

A = TypeVar("A", bound=StrEnum)
Parser = Callable[[str], Any]


class Where(Enum):
    """Where a button may act."""

    PRIVATE = "private"  # only in the private chat of the person tapping (shown to them)
    ANYWHERE = "anywhere"  # group messages too; the handler checks the person itself


class Who(Enum):
    ANYONE = "anyone"
    COORDINATOR = "coordinator"  # or their stand-in while away: the everyday rights
    GROUP_COORDINATOR = "group_coordinator"  # one of the group's own: its settings


class Invalid(ValueError):
    """An argument that `encode` could never have written."""


def ID(raw: str) -> int:
    """A row id: plain digits, positive, within a database integer."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or raw.startswith("0"):
        raise Invalid(raw)
    value = int(raw)
    if not 0 < value <= MAX_ID:
        raise Invalid(raw)
    return value


_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,43}$")


def TOKEN(raw: str) -> str:
    """A confirmation token (see `bot.domain.confirmations`)."""
    if not _TOKEN.match(raw):
        raise Invalid(raw)
    return raw


def choice(*values: str) -> Parser:
    """One of a few fixed words."""

    def parse(raw: str) -> str:
        if raw not in values:
            raise Invalid(raw)
        return raw

    return parse


def small_int(*values: int) -> Parser:
    """One of a few fixed numbers (hours, counts)."""
    allowed = {str(v): v for v in values}

    def parse(raw: str) -> int:
        if raw not in allowed:
            raise Invalid(raw)
        return allowed[raw]

    return parse


ButtonHandler = Callable[..., Awaitable[None]]


@dataclass(frozen=True)
class Route:
    handler: ButtonHandler
    args: tuple[Parser, ...]
    where: Where
    who: Who


class Callbacks(Generic[A]):
    """The buttons of one feature: `encode`, `decode` and the dispatch table."""

    def __init__(self, prefix: str, actions: type[A]) -> None:
        self.prefix = prefix
        self.actions = actions
        self.routes: dict[A, Route] = {}

    @property
    def pattern(self) -> str:
        return rf"^{re.escape(self.prefix)}:"

    def route(
        self,
        action: A,
        *args: Parser,
        where: Where = Where.PRIVATE,
        who: Who = Who.ANYONE,
    ) -> Callable[[ButtonHandler], ButtonHandler]:
        """Register `handler(update, context, *decoded_args)` for `action`."""

        def register(handler: ButtonHandler) -> ButtonHandler:
            assert action not in self.routes, f"{self.prefix}:{action} routed twice"
            self.routes[action] = Route(handler, args, where, who)
            return handler

        return register

    def encode(self, action: A, *args: object) -> str:
        """The button's data; made for someone in several groups, it also names the group
        of the work in hand, so a tap acts for that group (`groups.mark_data`)."""
        data = ":".join([self.prefix, action.value, *(str(a) for a in args)])
        scope = current_group.get()
        if scope is not None and scope.marks_buttons:
            data = groups.mark_data(data, scope.key)
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"button data over {MAX_BYTES} bytes: {data[:20]}…")
        return data

    def decode(self, data: str | None) -> tuple[A, tuple[Any, ...]] | None:
        """(action, typed args), or None for anything `encode` could not have made."""
        if not data or len(data.encode()) > MAX_BYTES:
            return None
        data, key = groups.split_data(data)
        if key is not None:
            # Made for a group: valid only in that group's update (the tapper is in it).
            scope = current_group.get()
            if scope is None or scope.key != key:
                return None
        prefix, *rest = data.split(":")
        if prefix != self.prefix or not rest:
            return None
        try:
            action = self.actions(rest[0])
        except ValueError:
            return None
        route = self.routes.get(action)
        raw_args = rest[1:]
        if route is None or len(raw_args) != len(route.args):
            return None
        try:
            return action, tuple(
                parse(raw) for parse, raw in zip(route.args, raw_args, strict=True)
            )
        except Invalid:
            return None

    async def dispatch(self, update: Update, context: PeerContext) -> None:
        """The one `CallbackQueryHandler` callback of the feature."""
        query = update.callback_query
        assert query is not None
        decoded = self.decode(query.data)
        if decoded is None:
            await answer(update, context, STALE)
            return
        action, args = decoded
        route = self.routes[action]
        if route.where is Where.PRIVATE and not in_own_private_chat(update):
            await answer(update, context, STALE)
            return
        if route.who is Who.COORDINATOR and not await is_coordinator_tap(update, context):
            await refuse_coordinator_tap(update, context)
            return
        if route.who is Who.GROUP_COORDINATOR and not is_group_coordinator_tap(update, context):
            await answer(update, context, ONLY_COORDINATOR)
            return
        await route.handler(update, context, *args)


def in_own_private_chat(update: Update) -> bool:
    """The button sits on a message in the private chat of the person who tapped it."""
    query, user = update.callback_query, update.effective_user
    message = query.message if query is not None else None
    if message is None or user is None:
        return False
    chat = message.chat
    return chat.type == ChatType.PRIVATE and chat.id == user.id


async def is_coordinator_tap(update: Update, context: PeerContext) -> bool:
    """A coordinator's button: a coordinator, or their stand-in during the period."""
    user = update.effective_user
    return await acts_as_coordinator(context, user.id if user else None)


def is_group_coordinator_tap(update: Update, context: PeerContext) -> bool:
    """One of the group's own coordinators (never a stand-in): the group's settings."""
    user = update.effective_user
    return user is not None and context.services.is_coordinator(user.id)


async def refuse_coordinator_tap(update: Update, context: PeerContext) -> None:
    """Not a coordinator's tap. A stand-in whose period is over gets a kind word that the
    coordinator is back and has what is still open (the summary at the period's end names
    it, with the cover still wanted); anyone else "only the coordinator"."""
    user, query = update.effective_user, update.callback_query
    name = await coordinator_back(context, user.id) if user is not None else None
    if name is None or user is None or query is None:
        await answer(update, context, ONLY_COORDINATOR)
        return
    _ = context.texts(language_of(context, user))
    with contextlib.suppress(TelegramError):
        await query.answer()
    if in_own_private_chat(update):
        with contextlib.suppress(TelegramError):  # its buttons go: nothing to tap again
            await query.edit_message_reply_markup(reply_markup=None)
    with contextlib.suppress(TelegramError):  # in private: the group is told nothing
        await context.bot.send_message(
            user.id,
            _(
                "{coordinator} is back and has taken over again, so I have done nothing with "
                "this. {coordinator} has what is still open. Thank you for standing in!"
            ).format(coordinator=name),
        )
    log.info("a late tap of a former stand-in passed back")


async def stale_button(update: Update, context: PeerContext) -> None:
    """Button data no feature's prefix matches (e.g. a bare "minutes"): the kind answer."""
    await answer(update, context, STALE)


async def answer(update: Update, context: PeerContext, text: str) -> None:
    """A short note on the tapper's screen only (never a message in the chat)."""
    query = update.callback_query
    assert query is not None
    _ = context.texts(language_of(context, update.effective_user))
    # An old query can't be answered any more; there is nothing else to do then.
    with contextlib.suppress(TelegramError):
        await query.answer(_(text))


async def acknowledge(update: Update) -> CallbackQuery:
    """The tapped button's query, answered at once (the button stops spinning)."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    return query


async def take_confirmation(
    update: Update,
    context: PeerContext,
    token: str,
    *kinds: confirmations.Kind,
    keep_message: bool = False,
) -> confirmations.Pending | None:
    """The pending action behind a confirmation button, used up now; or None after telling
    the tapper kindly why it does nothing: in place of the message (its buttons go, so it
    can't be tapped again), or on their screen only when `keep_message` (the message's
    other buttons still count, e.g. the next suggestion to ask)."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None and query.message is not None
    services = context.services
    taken = await confirmations.take(
        context.session,
        services.group_id,
        token,
        kinds,
        actor_user_id=user.id,
        chat_id=query.message.chat.id,
        now=services.clock.now(),
    )
    if isinstance(taken, confirmations.Pending):
        return taken
    if keep_message:
        await answer(update, context, REFUSALS[taken])
        return None
    _ = context.texts(language_of(context, user))
    with contextlib.suppress(TelegramError):
        await query.answer()
    with contextlib.suppress(TelegramError):  # the message may be too old to edit
        await query.edit_message_text(_(REFUSALS[taken]))
    return None


async def offer_confirmation(
    update: Update,
    context: PeerContext,
    kind: confirmations.Kind,
    *,
    person_id: int | None = None,
    subject_id: int | None = None,
    replacing: bool = True,
) -> str:
    """A single-use token for a button shown to this update's sender in this chat; by
    default it replaces their open questions of this kind."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    services = context.services
    return await confirmations.offer(
        context.session,
        services.group_id,
        kind,
        actor_user_id=user.id,
        chat_id=chat.id,
        now=services.clock.now(),
        person_id=person_id,
        subject_id=subject_id,
        replacing=replacing,
    )
