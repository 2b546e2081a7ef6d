"""Starting and stopping the bot: long polling or a webhook for production, and an
in-process runner for the demo and the end-to-end tests (which must call
post_init/post_shutdown themselves). Every way in takes the single-instance lease first."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

from sqlalchemy.engine import make_url
from telegram.ext import Application

from bot.app import (
    ALLOWED_UPDATES,
    EXIT_DATABASE_UNUSABLE,
    build_application,
    is_database_trouble,
    stop_deaf,
)
from bot.clock import FAKE_CLOCK_FILE_ENV, Clock, SystemClock, clock_from_environment
from bot.config import Settings
from bot.domain import instance
from storage.db import Database
from storage.migrate import upgrade

log = logging.getLogger(__name__)

# Starting (getMe, deleteWebhook/setWebhook) is retried this many times, with PTB's growing
# pauses: one 502 from Telegram at start-up must not end the process (PTB's default is 0).
# A wrong token is never retried (InvalidToken).
BOOTSTRAP_RETRIES = 10


async def prepare_database(settings: Settings) -> Database:
    database = Database(settings.database_url)
    await upgrade(database.engine)
    return database


async def take_lease(database: Database, clock: Clock) -> str:
    """The single-instance guard: raises instance.AnotherInstanceRunning when another bot
    serves from this database."""
    holder = instance.new_holder_id()
    async with database.transaction() as session:
        await instance.acquire(session, holder, clock.now())
    return holder


def keep_lease(application: Application, holder: str) -> None:
    """Renew the lease from a JobQueue job; release it when the application shuts down.
    The same job (and a cheaper, more frequent one) checks that the database file is still
    the one the bot started with."""
    application.bot_data["lease_holder"] = holder
    services = application.bot_data["services"]
    application.bot_data["database_file"] = database_file_identity(services.db.url)
    assert application.job_queue is not None
    every = instance.RENEW_EVERY.total_seconds()
    application.job_queue.run_repeating(
        _renew_lease, interval=every, first=every, name="instance_lease"
    )
    application.job_queue.run_repeating(
        _check_database_file, interval=FILE_CHECK_EVERY, first=FILE_CHECK_EVERY, name="db_file"
    )
    stop_hook = application.post_shutdown

    async def _release_then_stop(app: Application) -> None:
        services = app.bot_data["services"]
        try:
            async with services.db.transaction() as session:
                await instance.release(session, holder)
        except Exception:  # the lease then simply times out
            log.exception("could not release the instance lease")
        if stop_hook is not None:
            await stop_hook(app)

    application.post_shutdown = _release_then_stop


# Seconds between checks that the SQLite file was not deleted or replaced (one stat call).
FILE_CHECK_EVERY = 5.0
# Renewals of the lease that may fail in a row before the bot counts the database as gone:
# by then the lease is about to time out and another bot could take over.
RENEWALS_MAY_FAIL = 2


def database_file_identity(url: str) -> tuple[int, int] | None:
    """(device, inode) of an SQLite database file; None for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    try:
        stat = os.stat(parsed.database)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino)


def _database_file_problem(application: Application) -> str | None:
    started_with = application.bot_data.get("database_file")
    if started_with is None:
        return None
    url = application.bot_data["services"].db.url
    now = database_file_identity(url)
    if now is None:
        return "the database file was deleted while the bot ran"
    if now != started_with:
        return "the database file was replaced while the bot ran"
    return None


async def _check_database_file(context: object) -> None:
    application: Application = context.application  # type: ignore[attr-defined]
    problem = _database_file_problem(application)
    if problem:
        stop_deaf(application, problem)


async def _renew_lease(context: object) -> None:
    application: Application = context.application  # type: ignore[attr-defined]
    services = application.bot_data["services"]
    holder = application.bot_data["lease_holder"]
    problem = _database_file_problem(application)
    if problem:
        stop_deaf(application, problem)
        return
    try:
        async with services.db.transaction() as session:
            still_ours = await instance.renew(session, holder, services.clock.now())
    except Exception as error:
        if not is_database_trouble(error):
            raise
        failed = application.bot_data.get("renewals_failed", 0) + 1
        application.bot_data["renewals_failed"] = failed
        if failed > RENEWALS_MAY_FAIL:
            stop_deaf(application, f"the lease could not be renewed {failed} times")
        else:
            log.warning("the lease could not be renewed (%s)", type(error).__name__)
        return
    application.bot_data["renewals_failed"] = 0
    if not still_ours:
        # Another bot took over (this one was unreachable for longer than the timeout).
        log.error("another PeerBot took over this database; this one stops serving")
        if application.bot_data.get("in_process"):
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.job_queue is not None:
                application.job_queue.scheduler.pause()
        else:
            application.stop_running()


def webhook_path(settings: Settings) -> str:
    """The local path the webhook server answers on: the path of the public URL."""
    return urlparse(settings.webhook_url).path.strip("/")


@contextlib.asynccontextmanager
async def running_bot(
    settings: Settings,
    clock: Clock,
    *,
    poll_timeout: int = 1,
    webhook: bool = False,
    rate_limiter: Any = None,
) -> AsyncIterator[Application]:
    """Run the real Application with long polling (or its webhook server) inside the
    current event loop."""
    database = await prepare_database(settings)
    try:
        holder = await take_lease(database, clock)
    except BaseException:
        await database.dispose()
        raise
    application = build_application(
        settings, clock=clock, database=database, rate_limiter=rate_limiter
    )
    application.bot_data["in_process"] = True
    keep_lease(application, holder)
    try:
        await application.initialize()
        if application.post_init:
            await application.post_init(application)
        assert application.updater is not None
        if webhook:
            await application.updater.start_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path=webhook_path(settings),
                webhook_url=settings.webhook_url,
                secret_token=settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        else:
            await application.updater.start_polling(
                poll_interval=0.0,
                timeout=poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        await application.start()
    except BaseException:
        async with database.transaction() as session:
            await instance.release(session, holder)
        await database.dispose()
        raise
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


def _prepare_and_lease(settings: Settings, clock: Clock) -> str:
    """Migrate, then take the lease (raises AnotherInstanceRunning)."""
    import asyncio

    async def _prepare() -> str:
        database = await prepare_database(settings)
        try:
            return await take_lease(database, clock)
        finally:
            await database.dispose()

    return asyncio.run(_prepare())


def freeze_after_start(application: Application) -> None:
    """Once started, move everything alive into the garbage collector's permanent
    generation. The imports and the Application are some 110,000 objects that live as long
    as the process; without this every full collection walks them all, a 55 ms stall in
    the middle of somebody's update (the p99 of bench/latency.py). For the processes
    `run` starts only: in-process runs (tests, demo) come and go, and frozen objects are
    never freed."""
    start_hook = application.post_init

    async def _start_then_freeze(app: Application) -> None:
        if start_hook is not None:
            await start_hook(app)
        gc.collect()  # what start-up left behind is freed first, not frozen
        gc.freeze()

    application.post_init = _start_then_freeze


def run_polling(settings: Settings) -> None:
    """Serve the real group until stopped (Ctrl+C)."""
    clock = clock_from_environment()  # the system clock unless a test set its hook
    if not isinstance(clock, SystemClock):
        log.warning("test clock in use (%s is set): not for production", FAKE_CLOCK_FILE_ENV)
    holder = _prepare_and_lease(settings, clock)
    application = build_application(settings, clock=clock)
    keep_lease(application, holder)
    freeze_after_start(application)
    application.run_polling(allowed_updates=ALLOWED_UPDATES, bootstrap_retries=BOOTSTRAP_RETRIES)
    _fail_if_deaf(application)


class DatabaseUnusable(RuntimeError):
    """The bot stopped because its database could not be used (exit code 4)."""

    exit_code = EXIT_DATABASE_UNUSABLE


def _fail_if_deaf(application: Application) -> None:
    reason = application.bot_data.get("fatal")
    if reason:
        raise DatabaseUnusable(f"PeerBot stopped: {reason}. See the log above.")


def run_webhook(settings: Settings) -> None:
    """Serve the real group through Telegram's webhook (behind an HTTPS reverse proxy).
    Requests without the secret token header are refused by PTB's webhook server."""
    if not settings.webhook_secret or not settings.webhook_url:
        raise ValueError("WEBHOOK_URL and WEBHOOK_SECRET are required for --webhook")
    clock = clock_from_environment()
    holder = _prepare_and_lease(settings, clock)
    application = build_application(settings, clock=clock)
    keep_lease(application, holder)
    freeze_after_start(application)
    application.run_webhook(
        listen=settings.webhook_listen,
        port=settings.webhook_port,
        url_path=webhook_path(settings),
        webhook_url=settings.webhook_url,
        secret_token=settings.webhook_secret,
        allowed_updates=ALLOWED_UPDATES,
        bootstrap_retries=BOOTSTRAP_RETRIES,
    )
    _fail_if_deaf(application)
