"""The application factory: the real python-telegram-bot Application, wired to PeerBot."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.clock import Clock
from bot.config import Settings
from bot.context import PeerContext, Services, current_session
from bot.domain import people, updates
from bot.logging_setup import ContentFreeLibraryLogs
from bot.ratelimit import PeerRateLimiter
from bot.scheduler import Scheduler
from storage.db import Database

log = logging.getLogger(__name__)

# Asked for explicitly on every getUpdates: Telegram keeps the last list it was given, and
# sends neither chat_member nor (for non-anonymous polls) poll_answer unless asked.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CALLBACK_QUERY,
    Update.POLL,
    Update.POLL_ANSWER,
    Update.CHAT_MEMBER,
    Update.MY_CHAT_MEMBER,
]


class ConfirmAfterHandling(asyncio.Queue):
    """The update queue between PTB's Updater and the Application.

    The Updater confirms a batch of updates to Telegram with its next getUpdates call (and
    the webhook server answers Telegram once the update is queued). Returning from `put`
    only when everything queued has been handled moves that confirmation after handling,
    so a crash mid-update loses nothing: Telegram delivers the update again."""

    async def put(self, item: object) -> None:
        await super().put(item)
        await self.join()


class PeerApplication(Application):
    """Opens one transaction per update, committed when every handler is done, and skips
    an update Telegram delivers a second time."""

    # Updates fully handled (committed or rolled back); the sandbox waits on this count.
    updates_done = 0

    async def process_update(self, update: object) -> None:
        services: Services = self.bot_data["services"]
        try:
            async with services.db.transaction() as session:
                update_id = update.update_id if isinstance(update, Update) else None
                if update_id is not None and await updates.handled_before(session, update_id):
                    log.info("update %s was handled before; skipping it", update_id)
                    return
                token = current_session.set(session)
                try:
                    await super().process_update(update)
                finally:
                    current_session.reset(token)
                if update_id is not None:
                    # Written last: an SQLite transaction that writes first would hold the
                    # write lock through every Telegram call the handlers make.
                    updates.record_handled(session, update_id, services.clock.now())
        finally:
            self.updates_done += 1


async def forget_old_updates(context: PeerContext) -> None:
    """A scheduler pass: the record of handled updates is only needed for a short while."""
    services = context.services
    async with services.db.transaction() as session:
        await updates.forget_old(session, services.clock.now())


def file_url_for(base_url: str) -> str:
    """Telegram serves files beside the API: .../bot -> .../file/bot."""
    head, _, tail = base_url.rstrip("/").rpartition("/")
    return f"{head}/file/{tail}"


def build_application(
    settings: Settings,
    *,
    clock: Clock,
    database: Database | None = None,
    rate_limiter: Any = None,
) -> Application:
    """Build the Application with PeerBot's handlers, services and start/stop hooks. The
    clock is the caller's choice (the runner's, a test's): never a default, so no path
    mixes a test's clock with the wall clock."""
    from handlers import register_all  # handlers import bot.*, so import them late

    services = Services(
        settings=settings,
        clock=clock,
        db=database or Database(settings.database_url),
        scheduler=Scheduler(),
    )
    builder = (
        ApplicationBuilder()
        .application_class(PeerApplication)
        .update_queue(ConfirmAfterHandling())
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(file_url_for(settings.telegram_base_url))
        .context_types(ContextTypes(context=PeerContext))
        .post_init(_on_start)
        .post_shutdown(_on_stop)
    )
    # Telegram's flood limits, kept app-wide (bot/ratelimit.py) unless a test passes another.
    builder = builder.rate_limiter(rate_limiter if rate_limiter is not None else PeerRateLimiter())
    application = builder.build()
    # Installed here, not only in `configure_logging`: tests and embedders log their own way.
    ContentFreeLibraryLogs.install()
    application.bot_data["services"] = services
    register_all(application, services)
    services.scheduler.add("handled_updates", forget_old_updates)
    return application


async def _on_start(application: Application) -> None:
    """Find the group, publish the command menus, arm the scheduler (and catch up)."""
    from handlers.start import publish_command_menus

    services: Services = application.bot_data["services"]
    settings = services.settings
    if settings.group_chat_id is None:
        raise RuntimeError("GROUP_CHAT_ID is not set")
    async with services.db.transaction() as session:
        group = await people.ensure_group(session, settings.group_chat_id, services.clock.now())
        await people.sync_coordinators(session, group.id, settings.coordinator_ids)
        services.group_id, services.group_chat_id = group.id, group.chat_id
    services.bot_username = application.bot.username
    await publish_command_menus(application)
    services.scheduler.arm(application, settings.scheduler_interval_seconds)
    log.info("PeerBot started for group row %s", services.group_id)


async def _on_stop(application: Application) -> None:
    services: Services = application.bot_data["services"]
    await services.db.dispose()
