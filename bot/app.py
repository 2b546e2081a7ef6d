"""The application factory: the real python-telegram-bot Application, wired to PeerBot."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import importlib.util
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
)
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from bot.clock import Clock
from bot.config import Settings
from bot.context import (
    ChosenGroup,
    PeerContext,
    Services,
    after_commit_hooks,
    chosen_group,
    current_group,
    current_session,
    done_in_earlier_try,
    flow_group,
)
from bot.domain import groups, updates
from bot.domain.groups import GroupScope
from bot.logging_setup import ContentFreeLibraryLogs
from bot.ratelimit import PeerRateLimiter
from bot.scheduler import Scheduler
from bot.updateloop import ConfirmAfterHandling, PeerUpdater, PerPersonProcessor
from storage.db import Database
from storage.models import Group

# Groups whose scheduler passes run at the same time: a group with much to send holds up
# only its own turn, and 200 groups' passes are through in seconds. (One group: as before.)
GROUPS_SIDE_BY_SIDE = 4

log = logging.getLogger(__name__)

# Asked for explicitly on every getUpdates: Telegram keeps the last list it was given, and
# sends neither chat_member nor (for non-anonymous polls) poll_answer unless asked. Not
# `poll`: Telegram sends one with every vote on the bot's polls and nothing reads it (a
# poll's result comes back from stopPoll), so each vote cost a second, empty update.
ALLOWED_UPDATES = [
    Update.MESSAGE,
    Update.CALLBACK_QUERY,
    Update.POLL_ANSWER,
    Update.CHAT_MEMBER,
    Update.MY_CHAT_MEMBER,
]


# A database error while handling an update: tried again after these pauses (seconds).
# SQLite's busy timeout (10 s, storage/db.py) comes on top of each try, so another process
# may hold the write lock for about half a minute before the bot gives up.
RETRY_PAUSES = (0.2, 1.0, 2.0, 4.0)
# Errors that mean "the database could not be used", not "this update is wrong". OSError:
# a PostgreSQL server that is down or unreachable refuses the pool's new connection with a
# plain ConnectionRefusedError (or a TimeoutError, a DNS error) that SQLAlchemy passes on
# unwrapped; without it such an update failed silently and the bot stayed alive but deaf.
# Telegram's own network errors are telegram.error types, not OSError.
DATABASE_TROUBLE = (OperationalError, InterfaceError, OSError)


def is_database_trouble(error: BaseException) -> bool:
    """DATABASE_TROUBLE, and a connection lost in the middle of a statement (a PostgreSQL
    server restarted, pg_terminate_backend): SQLAlchemy reports that as a plain DBAPIError
    marked invalidated, and the transaction that saw it then raises PendingRollbackError.
    Before, neither counted: the update escaped unconfirmed for good and held back the
    confirmation of every later one."""
    if isinstance(error, (*DATABASE_TROUBLE, PendingRollbackError)):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def is_retryable(error: BaseException) -> bool:
    """Database trouble, and a unique key: two people's updates, handled side by side, can
    race for the same new row; the second try sees the first one's row. On the last try
    an IntegrityError goes to the kind error answer like any other failure."""
    return is_database_trouble(error) or isinstance(error, IntegrityError)


class PeerApplication(Application):
    """Opens one transaction per update, committed when every handler is done; skips an
    update Telegram delivers a second time; tries again when the database fails, and stops
    the bot (exit non-zero, nothing confirmed) when it stays unusable."""

    # Updates fully handled (committed or rolled back); the sandbox waits on this count.
    updates_done = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ledger = updates.UpdateLedger()

    async def process_update(self, update: object) -> None:
        queue = self.update_queue
        done_token = done_in_earlier_try.set(set())
        tries = 0
        try:
            for attempt, pause in enumerate((*RETRY_PAUSES, None)):
                if self.bot_data.get("fatal"):
                    return  # stopping: Telegram keeps the update
                tries = attempt + 1
                try:
                    await self._process_once(update, retry=attempt > 0, last_try=pause is None)
                except Exception as error:
                    if not is_retryable(error):
                        # Nothing to try again, but never left unconfirmed for good (that
                        # would hold back the confirmation of every later update).
                        log.exception("update %s failed: %s", _update_id(update), _reason(error))
                        break
                    if pause is None:
                        break
                    log.warning(
                        "the database failed while handling update %s (%s); trying again in %s s",
                        _update_id(update),
                        _reason(error),
                        pause,
                    )
                    await asyncio.sleep(pause)
                else:
                    if isinstance(queue, ConfirmAfterHandling):
                        queue.handled(update)
                    return
            await self._after_failures(update, tries)
        finally:
            done_in_earlier_try.reset(done_token)
            self.updates_done += 1

    async def _process_once(self, update: object, *, retry: bool, last_try: bool) -> None:
        failures: list[BaseException] = []
        trouble = _handler_trouble.set((failures, last_try))
        hooks: list[Callable[[], Awaitable[None]]] = []
        hooks_token = after_commit_hooks.set(hooks)
        group_token = current_group.set(None)  # set to the update's in _in_transaction
        try:
            try:
                await self._in_transaction(update, failures, retry=retry)
            finally:
                after_commit_hooks.reset(hooks_token)
                _handler_trouble.reset(trouble)
            for hook in hooks:
                try:
                    await hook()
                except Exception:  # the update's work is done; only the extra failed
                    log.exception("work after update %s's commit failed", _update_id(update))
        finally:
            current_group.reset(group_token)

    async def _in_transaction(
        self, update: object, failures: list[BaseException], *, retry: bool
    ) -> None:
        services: Services = self.bot_data["services"]
        update_id = _update_id(update)
        async with services.db.transaction() as session:
            if update_id is not None and await self.ledger.seen_before(
                session, update_id, retry=retry
            ):
                log.info("update %s was handled before; skipping it", update_id)
                return
            # The update's group stays set through the commit and the work after it (reset
            # in _process_once): what runs after the commit (a kick of the sender) is the
            # group's too.
            now = services.clock.now()
            chosen = self._chosen_group(update, now)
            scope = await group_of_update(session, update, now, chosen)
            current_group.set(self._titled(scope, update))
            token = current_session.set(session)
            try:
                await super().process_update(update)
            finally:
                current_session.reset(token)
            if failures:
                raise failures[0]  # rolls back; tried again by process_update
            if update_id is not None and _repeat_would_matter(update):
                # Written last: an SQLite transaction that writes first would hold the
                # write lock through every Telegram call the handlers make.
                await updates.record_handled(session, update_id, services.clock.now())
        if update_id is not None:
            self.ledger.committed(update_id)

    def _titled(self, scope: GroupScope | None, update: object) -> GroupScope | None:
        """The group as Telegram names it in this update: a title new to us (a new group, a
        renamed one) is stored after the commit, in a short transaction of its own (written
        here, an SQLite transaction would hold the write lock through the whole update)."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if scope is None or chat is None or chat.type == ChatType.PRIVATE or not chat.title:
            return scope
        if scope.title == chat.title[:255]:
            return scope
        title, group_id = chat.title[:255], scope.id
        services: Services = self.bot_data["services"]

        async def remember() -> None:
            async with services.db.transaction() as session:
                await groups.set_title(session, group_id, title)

        hooks = after_commit_hooks.get()
        if hooks is not None:
            hooks.append(remember)
        return dataclasses.replace(scope, title=title)

    def _chosen_group(self, update: object, now: datetime) -> ChosenGroup | None:
        """For a typed answer the group of the flow waiting for it; else the group the
        sender chose for their private conversation, if still live (a private update of
        theirs keeps it alive)."""
        if not isinstance(update, Update) or update.effective_user is None:
            return None
        chat = update.effective_chat
        if chat is not None and chat.type != ChatType.PRIVATE:
            return None
        user_data = self.user_data.get(update.effective_user.id)
        chosen = chosen_group(user_data, now)
        if chosen is not None:
            chosen.touched_at = now
        # A typed answer goes to the group of the flow waiting for it (a flow is one
        # group's, whatever was chosen since); a command or a tap to the chosen group.
        message = update.message
        if message is not None and not (message.text or "").startswith("/"):
            group_id = flow_group(user_data, now)
            if group_id is not None:
                return ChosenGroup(group_id, now)
        return chosen

    async def process_error(
        self,
        update: object | None,
        error: Exception,
        job: Any = None,
        coroutine: Any = None,
    ) -> bool:
        """A handler's database failure is not the handler's to answer: the whole update is
        tried again (see process_update)."""
        trouble = _handler_trouble.get()
        if trouble is not None and job is None:
            failures, last_try = trouble
            if is_database_trouble(error) or (is_retryable(error) and not last_try):
                failures.append(error)
                return True
        return await super().process_error(update, error, job, coroutine)

    async def _after_failures(self, update: object, tries: int) -> None:
        """Tried enough. If the database works for a plain write, this one update is what
        fails: log it and go on. Otherwise the bot is deaf: stop it."""
        services: Services = self.bot_data["services"]
        try:
            async with services.db.transaction() as session:
                await updates.probe(session, services.clock.now())
        except IntegrityError:
            pass  # the probe row raced another writer: the database itself works
        except Exception as error:  # a plain write failed: the database is unusable
            stop_deaf(self, f"update {_update_id(update)} could not be handled: {_reason(error)}")
            return
        log.error(
            "update %s failed (%s %s) although the database works; it is skipped",
            _update_id(update),
            tries,
            "try" if tries == 1 else "tries",
        )
        if isinstance(self.update_queue, ConfirmAfterHandling):
            self.update_queue.handled(update)


# The handlers' database failures of the update being handled (see process_error).
_handler_trouble: contextvars.ContextVar[tuple[list[BaseException], bool] | None] = (
    contextvars.ContextVar("handler_trouble", default=None)
)


async def group_of_update(
    session: AsyncSession, update: object, now: datetime, chosen: ChosenGroup | None = None
) -> GroupScope | None:
    """The group an update belongs to: a group chat's own; a vote's poll's; in private, the
    sender's: for someone in several groups the one a tapped button names, else the one
    chosen for the conversation (`chosen`), else `groups.group_of_person`'s. None: no
    group of ours (a foreign chat, a stranger), handled as such."""
    if not isinstance(update, Update):
        return None
    found: tuple[Group, list[int]] | None = None  # the group and its named coordinators
    several = False
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        found = await groups.chat_group_with_coordinators(session, chat.id)
        message = update.effective_message
        if found is None and message is not None and message.migrate_from_chat_id:
            found = await groups.chat_group_with_coordinators(session, message.migrate_from_chat_id)
        if found is None:
            return None
    elif update.poll is not None or update.poll_answer is not None:
        poll_id = update.poll.id if update.poll is not None else update.poll_answer.poll_id
        found = await groups.poll_group_with_coordinators(session, poll_id)
    elif update.effective_user is not None:
        query = update.callback_query
        key = groups.split_data(query.data)[1] if query is not None and query.data else None
        found, several = await groups.private_group_with_coordinators(
            session,
            update.effective_user.id,
            key=key,
            chosen=chosen.group_id if chosen is not None else None,
        )
    if found is None:
        return None
    group, named = found
    return await groups.scope_of(session, group, now, marks_buttons=several, named=named)


def _repeat_would_matter(update: object) -> bool:
    """Whether handling this update a second time could do something twice, so that it
    needs the record of handled updates. Not a poll answer: it only stores the voter's
    answer in place of what they had (handlers/meeting.py), is never answered, and is the
    update that comes in crowds: handled again it changes nothing, a statement less each."""
    return not (isinstance(update, Update) and update.poll_answer is not None)


def _update_id(update: object) -> int | None:
    return update.update_id if isinstance(update, Update) else None


def _reason(error: BaseException) -> str:
    """The kind of database failure, without the statement or its parameters."""
    original = getattr(error, "orig", None) or error
    return f"{type(original).__name__}: {str(original).splitlines()[0][:120]}"


def stop_deaf(application: Application, reason: str) -> None:
    """The database is unusable: say so loudly, stop taking (and confirming) updates,
    stop the scheduler and the lease's renewal, and stop the process with a failure code
    so a supervisor (systemd `Restart=on-failure`) starts it again."""
    if application.bot_data.get("fatal"):
        return
    application.bot_data["fatal"] = reason
    log.critical(
        "PeerBot cannot use its database (%s). It stops now, without confirming the updates "
        "it could not handle (Telegram keeps them), and exits with code %s so a supervisor "
        "restarts it.",
        reason,
        EXIT_DATABASE_UNUSABLE,
    )
    if isinstance(application.update_queue, ConfirmAfterHandling):
        application.update_queue.refuse()
    if application.job_queue is not None and application.job_queue.scheduler.running:
        application.job_queue.scheduler.pause()  # no lease renewal, no scheduler pass
    if application.bot_data.get("in_process"):
        updater = application.updater
        if updater is not None and updater.running:
            application.create_task(updater.stop())
    else:
        application.stop_running()


# `peerbot run`'s exit code when it stopped because the database was unusable.
EXIT_DATABASE_UNUSABLE = 4


async def forget_old_updates(context: PeerContext) -> None:
    """A scheduler pass: the record of handled updates is only needed for a short while."""
    services = context.services
    async with services.db.transaction() as session:
        await updates.forget_old(session, services.clock.now())


def remember_sniffio_is_missing() -> None:
    """httpcore asks `import sniffio` several times for every Bot API call (to tell asyncio
    from trio). anyio 4 no longer installs it, and an import that fails is not remembered:
    each try searched every folder on sys.path again, about 0.1 ms, a few times per call.
    Recorded as absent, the same import fails at once and httpcore takes asyncio, as it
    did; nothing else changes (anyio and httpx treat the absence the same way)."""
    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def group_of_work() -> int | None:
    """The group the running update or pass serves (the rate limiter's share)."""
    group = current_group.get()
    return group.id if group is not None else None


async def groups_served(application: Application) -> list[GroupScope]:
    """Every group, as each scheduler round serves them (read anew: groups come and go)."""
    services: Services = application.bot_data["services"]
    async with services.db.transaction() as session:
        now = services.clock.now()
        return [await groups.scope_of(session, g, now) for g in await groups.all_groups(session)]


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

    remember_sniffio_is_missing()
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
        .concurrent_updates(PerPersonProcessor())
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(file_url_for(settings.telegram_base_url))
        .context_types(ContextTypes(context=PeerContext))
        .post_init(_on_start)
        .post_shutdown(_on_stop)
    )
    # Telegram's flood limits, kept app-wide (bot/ratelimit.py) unless a test passes another,
    # shared fairly between the groups: each call's share is the group of its work.
    limiter = rate_limiter if rate_limiter is not None else PeerRateLimiter()
    if getattr(limiter, "share", False) is None:  # a PeerRateLimiter not told otherwise
        limiter.share = group_of_work
    builder = builder.rate_limiter(limiter)
    application = builder.build()
    # Updates are confirmed only once handled (bot/updateloop.py).
    application.updater = PeerUpdater(bot=application.bot, update_queue=application.update_queue)
    # Installed here, not only in `configure_logging`: tests and embedders log their own way.
    ContentFreeLibraryLogs.install()
    application.bot_data["services"] = services
    register_all(application, services)
    services.scheduler.add("handled_updates", forget_old_updates, per_group=False)
    services.scheduler.groups = groups_served
    services.scheduler.side_by_side = GROUPS_SIDE_BY_SIDE
    return application


async def upsert_configured_group(
    session: AsyncSession, settings: Settings, now: datetime
) -> Group | None:
    """The one-group shortcut: GROUP_CHAT_ID's group, registered (or brought in step) with
    COORDINATOR_IDS, TIMEZONE and LANGUAGE at each start, as before groups were data."""
    if settings.group_chat_id is None:
        return None
    return await groups.add_group(
        session,
        settings.group_chat_id,
        now,
        coordinator_ids=settings.coordinator_ids,
        timezone=settings.timezone,
        language=settings.language,
    )


async def _on_start(application: Application) -> None:
    """Find the group, publish the command menus, arm the scheduler (and catch up)."""
    from handlers.start import publish_command_menus

    services: Services = application.bot_data["services"]
    async with services.db.transaction() as session:
        group = await upsert_configured_group(session, services.settings, services.clock.now())
        if group is None:
            served = await groups.all_groups(session)
            if not served and not services.settings.admin_ids:
                raise RuntimeError(
                    "no group: set GROUP_CHAT_ID and COORDINATOR_IDS, or `peerbot groups add`"
                )
            group = served[0] if served else None  # none yet: an admin's /setup adds one
        if group is not None:
            services.default_group = await groups.scope_of(session, group, services.clock.now())
    services.bot_username = application.bot.username
    await publish_command_menus(application)
    services.scheduler.arm(application, services.settings.scheduler_interval_seconds)
    log.info("PeerBot started for group row %s", services.group_id)


async def _on_stop(application: Application) -> None:
    services: Services = application.bot_data["services"]
    await services.db.dispose()
