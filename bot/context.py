"""What every handler and job can reach: the services and the current transaction."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from bot.domain.groups import GroupScope
from bot.i18n import Translate, texts
from storage.db import Database

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

# The transaction of the update being handled; set in one place, `PeerApplication`.
current_session: contextvars.ContextVar[AsyncSession | None] = contextvars.ContextVar(
    "current_session", default=None
)


# Work to do once the update's transaction committed (e.g. folding SQLite's write-ahead
# log into the file after a deletion); set per update by `PeerApplication`.
after_commit_hooks: contextvars.ContextVar[list[Callable[[], Awaitable[None]]] | None] = (
    contextvars.ContextVar("after_commit_hooks", default=None)
)

# What the update being handled already did for good in an earlier try, before the
# database failed and it was tried again (set per update by `PeerApplication`, e.g. "welcomed"):
# a handler that answers before it writes (`/start`) skips that answer on the next try.
done_in_earlier_try: contextvars.ContextVar[set[str] | None] = contextvars.ContextVar(
    "done_in_earlier_try", default=None
)

Listener = Callable[..., Awaitable[None]]


# The group of the update being handled or of the scheduler pass running; set by
# `PeerApplication` (from the update's chat, sender or poll) and by the scheduler (each
# group in turn). Tasks started from there inherit it (asyncio copies context variables).
current_group: contextvars.ContextVar[GroupScope | None] = contextvars.ContextVar(
    "current_group", default=None
)


# The `user_data` slot of the group someone in several groups chose for their private
# conversation (handlers/group_choice.py): their private updates are that group's while
# it lives. Beside the conversation's flow (handlers/conversation.py), not in its slot:
# the choice holds through several flows, one after the other.
CHOSEN_GROUP = "chosen_group"
# The `user_data` slot of the person's conversation flow (handlers/conversation.py).
FLOW_SLOT = "conversation"


@dataclass
class ChosenGroup:
    """A group chosen for the conversation; it lives `lifetime` after the person's last
    private update (memory only: a restart asks again)."""

    group_id: int
    touched_at: datetime

    # At least as long as the longest flow (the minutes' six hours), so a flow's typed
    # answer never lands in another group.
    lifetime: ClassVar[timedelta] = timedelta(hours=6)

    def live(self, now: datetime) -> bool:
        return timedelta(0) <= now - self.touched_at <= self.lifetime


def chosen_group(user_data: Any, now: datetime) -> ChosenGroup | None:
    """The live choice in one person's `user_data` (a mapping or None)."""
    held = user_data.get(CHOSEN_GROUP) if user_data is not None else None
    return held if isinstance(held, ChosenGroup) and held.live(now) else None


def flow_group(user_data: Any, now: datetime) -> int | None:
    """The group of the person's live conversation flow, if it names one."""
    flow = user_data.get(FLOW_SLOT) if user_data is not None else None
    expired = getattr(flow, "expired", None)
    if expired is None or expired(now):
        return None
    group_id = getattr(flow, "group_id", None)
    return group_id if isinstance(group_id, int) else None


@dataclass
class Services:
    """Long-lived dependencies, built once per process."""

    settings: Settings
    clock: Clock
    db: Database
    scheduler: Scheduler
    # Filled at start: the group served when no update or pass names one (the one-group
    # shortcut's, else the oldest); `group_id`, `group_chat_id`... read `current_group`.
    default_group: GroupScope | None = None
    bot_username: str = ""
    # Features listen to each other's events ("person_started", "pause_ended", ...)
    # without importing each other.
    listeners: dict[str, list[Listener]] = field(default_factory=dict)
    # Sections of the `/settings` menu, added by features (handlers/settings.py).
    settings_sections: list[Any] = field(default_factory=list)

    def on(self, event: str, listener: Listener) -> None:
        self.listeners.setdefault(event, []).append(listener)

    async def emit(self, event: str, context: PeerContext, **details: Any) -> None:
        for listener in self.listeners.get(event, []):
            await listener(context, **details)

    @property
    def group(self) -> GroupScope | None:
        """The group of the work in hand (see `current_group`), else the default one."""
        return current_group.get() or self.default_group

    @property
    def group_id(self) -> int:
        group = self.group
        return group.id if group is not None else 0

    @property
    def group_chat_id(self) -> int:
        group = self.group
        return group.chat_id if group is not None else 0

    def group_moved(self, new_chat_id: int) -> None:
        """The group of the work in hand became a supergroup: its new chat id from now on."""
        group = self.group
        if group is None:
            return
        moved = dataclasses.replace(group, chat_id=new_chat_id)
        if current_group.get() is not None:
            current_group.set(moved)
        if self.default_group is not None and self.default_group.id == group.id:
            self.default_group = moved

    @property
    def tz(self) -> ZoneInfo:
        group = self.group
        return group.tz if group is not None else self.settings.tz

    @property
    def language(self) -> str:
        """The group's language: what is said in the group, and the default in private."""
        group = self.group
        return group.language if group is not None else self.settings.language

    @property
    def coordinator_ids(self) -> tuple[int, ...]:
        """The coordinators of the group now (`bot.domain.groups.coordinators_now`)."""
        group = self.group
        return group.coordinator_ids if group is not None else ()

    def is_coordinator(self, user_id: int) -> bool:
        return user_id in self.coordinator_ids

    @property
    def digest_slot(self) -> tuple[int, time]:
        """When the group's weekly overview comes: the group's choice (`/digest`), else
        DIGEST_WEEKDAY and DIGEST_TIME."""
        group = self.group
        if group is not None and group.digest_weekday is not None and group.digest_time:
            return group.digest_weekday % 7, group.digest_time
        return self.settings.digest_weekday % 7, self.settings.digest_time

    @property
    def crisis_help_text(self) -> str:
        group = self.group
        if group is not None and group.crisis_help_text:
            return group.crisis_help_text
        return self.settings.crisis_help_text


class PeerContext(CallbackContext[ExtBot, dict, dict, dict]):
    """CallbackContext with PeerBot's services and the update's transaction."""

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    @property
    def session(self) -> AsyncSession:
        session = current_session.get()
        if session is None:
            raise RuntimeError("no transaction: only updates get one; jobs open their own")
        return session

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """The update's transaction when there is one (its commit saves the work too);
        otherwise, in a scheduler pass or an event listener, a short one of its own."""
        session = current_session.get()
        if session is not None:
            yield session
            return
        async with self.services.db.transaction() as own:
            yield own

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the update's transaction is saved (never if it rolls back),
        e.g. to start sending what it just queued."""
        event.listen(
            self.session.sync_session, "after_commit", lambda _session: callback(), once=True
        )

    def after_commit_await(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Await `hook` once this update's transaction has committed (not if it fails)."""
        hooks = after_commit_hooks.get()
        if hooks is None:
            raise RuntimeError("no transaction: only updates have one to wait for")
        hooks.append(hook)

    def texts(self, language: str | None = None) -> Translate:
        return texts(language or self.services.language)
