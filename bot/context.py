"""What every handler and job can reach: the services and the current transaction."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from telegram.ext import CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
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

Listener = Callable[..., Awaitable[None]]


@dataclass
class Services:
    """Long-lived dependencies, built once per process."""

    settings: Settings
    clock: Clock
    db: Database
    scheduler: Scheduler
    # Filled at start: the configured group's row id and its current Telegram chat id.
    group_id: int = 0
    group_chat_id: int = 0
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
    def tz(self) -> ZoneInfo:
        return self.settings.tz


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
        return texts(language or self.services.settings.language)
