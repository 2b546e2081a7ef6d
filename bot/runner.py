"""Starting and stopping the bot: long polling for production, and an in-process runner
for the demo and the end-to-end tests (which must call post_init/post_shutdown themselves)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from telegram.ext import Application

from bot.app import ALLOWED_UPDATES, build_application
from bot.clock import Clock
from bot.config import Settings
from storage.db import Database
from storage.migrate import upgrade


async def prepare_database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    await upgrade(database.engine)
    return database


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings, clock: Clock | None = None, *, poll_timeout: int = 1
) -> AsyncIterator[Application]:
    """Run the real Application with long polling inside the current event loop."""
    database = await prepare_database(settings)
    application = build_application(settings, clock=clock, database=database)
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    assert application.updater is not None
    await application.updater.start_polling(
        poll_interval=0.0,
        timeout=poll_timeout,
        allowed_updates=ALLOWED_UPDATES,
        drop_pending_updates=False,
    )
    await application.start()
    try:
        yield application
    finally:
        if application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        if application.post_shutdown:
            await application.post_shutdown(application)
        await application.shutdown()


def run_polling(settings: Settings) -> None:
    """Serve the real group until stopped (Ctrl+C)."""
    import asyncio

    async def _migrate() -> None:
        database = await prepare_database(settings)
        await database.dispose()

    asyncio.run(_migrate())
    application = build_application(settings)
    application.run_polling(allowed_updates=ALLOWED_UPDATES)
