"""How updates travel from Telegram to the handlers: confirmed only after handling, handled
concurrently for different people and in order for each person.

- `ConfirmAfterHandling` is the queue between PTB's Updater and the Application. It knows
  which updates are still being handled. With a webhook, Telegram hears "200" for an update
  only once it was handled; with long polling, `OffsetGuard` never confirms (by a getUpdates
  offset) an update older than the oldest one still being handled. A crash mid-update so
  loses nothing: Telegram delivers it again (and `handled_updates` skips what committed).
- `PerPersonProcessor` runs each person's updates one after the other and different
  people's side by side, so one person's flood or per-chat rate limit never delays
  another person's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Hashable
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor, Updater

log = logging.getLogger(__name__)

# While an older update is still being handled, newer ones are fetched by asking again
# from the oldest one (which keeps it unconfirmed) this often.
REFETCH_EVERY = 0.1
# Updates handled at the same time (different people). Each holds a database connection.
HANDLED_AT_ONCE = 8
# One person's updates waiting beyond this many are each held back a moment.
SANE_BURST = 5
SLOW_DOWN = 0.05


class UpdateRefused(RuntimeError):
    """The bot stopped handling updates (see `ConfirmAfterHandling.refuse`)."""


class ConfirmAfterHandling(asyncio.Queue):
    """The update queue between PTB's Updater and the Application (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_flight: dict[int, asyncio.Event] = {}
        # Webhook: `put` returns (and Telegram hears 200) once the update was handled.
        # Long polling: `put` returns at once and `OffsetGuard` holds the confirmation back.
        self.wait_for_each = True
        self.refused = False
        self.changed = asyncio.Event()

    async def put(self, item: object) -> None:
        update_id = getattr(item, "update_id", None)
        if self.refused and update_id is not None:  # PTB's own stop signal still passes
            raise UpdateRefused("the bot is stopping; Telegram keeps the update")
        done = None
        if isinstance(update_id, int):
            done = self.in_flight.setdefault(update_id, asyncio.Event())
        await super().put(item)
        if self.wait_for_each and done is not None:
            await done.wait()
            if self.refused and update_id in self.in_flight:
                raise UpdateRefused("the update was not handled; Telegram keeps it")

    def handled(self, update: object) -> None:
        """The update's work committed (or it was deliberately skipped): it may be confirmed."""
        update_id = getattr(update, "update_id", None)
        done = self.in_flight.pop(update_id, None) if isinstance(update_id, int) else None
        if done is not None:
            done.set()
        self.changed.set()

    def oldest_unconfirmed(self) -> int | None:
        return min(self.in_flight) if self.in_flight else None

    def refuse(self) -> None:
        """Stop taking updates and never confirm those not handled: Telegram keeps them for
        the next start. Waiting webhook requests are answered with an error."""
        self.refused = True
        for done in self.in_flight.values():
            done.set()
        self.changed.set()


class OffsetGuard:
    """Stands in for the bot in PTB's Updater so that getUpdates never confirms an update
    that is still being handled; everything else goes to the real bot."""

    def __init__(self, bot: Any, queue: ConfirmAfterHandling) -> None:
        self._bot = bot
        self._queue = queue

    def __getattr__(self, name: str) -> Any:
        return getattr(self._bot, name)

    async def get_updates(
        self,
        offset: int | None = None,
        timeout: float | timedelta | None = None,  # noqa: ASYNC109 (PTB names it)
        **kwargs: Any,
    ) -> tuple[Update, ...]:
        queue = self._queue
        loop = asyncio.get_running_loop()
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        deadline = loop.time() + float(seconds or 0)
        # Asking again right away would cost a whole getUpdates (the same updates, parsed
        # again) at the very moment the bot handles them, for updates that almost never came
        # in between: first give what is being handled REFETCH_EVERY to finish. Usually it
        # does (a few ms), and the next long poll confirms it, one getUpdates per update.
        refetch_at = min(loop.time() + REFETCH_EVERY, deadline)
        while True:
            oldest = queue.oldest_unconfirmed()
            if oldest is None or (offset is not None and oldest >= offset):
                remaining = max(round(deadline - loop.time()), 0)
                return await self._bot.get_updates(offset=offset, timeout=remaining, **kwargs)
            if loop.time() >= refetch_at or queue.refused:
                # Asked from the oldest update still being handled: it stays with Telegram.
                updates = await self._bot.get_updates(offset=oldest, timeout=0, **kwargs)
                fresh = tuple(u for u in updates if offset is None or u.update_id >= offset)
                if fresh or queue.refused:
                    return fresh
                if loop.time() >= deadline:
                    return ()
                # Asking again costs Telegram's whole backlog each time (the same updates):
                # at most every REFETCH_EVERY, sooner only once nothing is being handled.
                refetch_at = min(loop.time() + REFETCH_EVERY, deadline)
            if queue.in_flight:
                queue.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(queue.changed.wait(), refetch_at - loop.time())


class PeerUpdater(Updater):
    """PTB's Updater with the confirmation rules above: long polling through `OffsetGuard`,
    a webhook answering Telegram once the update was handled."""

    async def start_polling(self, *args: Any, **kwargs: Any) -> asyncio.Queue:
        queue = self.update_queue
        if isinstance(queue, ConfirmAfterHandling):
            queue.wait_for_each = False
            if not isinstance(self.bot, OffsetGuard):
                self.bot = OffsetGuard(self.bot, queue)  # type: ignore[assignment]
        return await super().start_polling(*args, **kwargs)

    async def start_webhook(self, *args: Any, **kwargs: Any) -> asyncio.Queue:
        queue = self.update_queue
        if isinstance(queue, ConfirmAfterHandling):
            queue.wait_for_each = True
        return await super().start_webhook(*args, **kwargs)

    async def _start_webhook(  # type: ignore[override]
        self,
        listen: str,
        port: int,
        url_path: str,
        bootstrap_retries: int,
        allowed_updates: Any,
        *,
        webhook_url: str | None = None,
        ready: asyncio.Event | None = None,
        max_connections: int = 40,
        secret_token: str | None = None,
        drop_pending_updates: bool | None = None,
        **unsupported: Any,
    ) -> None:
        """PTB's webhook set-up with PeerBot's own server (bot/webhook.py)."""
        from bot.webhook import WebhookServer

        if any(v is not None for v in unsupported.values()):
            raise ValueError(f"not supported by PeerBot's webhook: {sorted(unsupported)}")
        server = WebhookServer(
            self.bot,
            self.update_queue,
            listen=listen,
            port=port,
            path=url_path,
            secret_token=secret_token,
        )
        self._httpd = server  # type: ignore[assignment]  # PTB's stop() shuts it down
        await self._bootstrap(
            max_retries=bootstrap_retries,
            drop_pending_updates=drop_pending_updates,
            webhook_url=webhook_url,
            allowed_updates=allowed_updates,
            max_connections=max_connections,
            secret_token=secret_token,
        )
        await server.serve_forever(ready=ready)


def person_of(update: object) -> Hashable | None:
    """Whose update this is: updates of one person are handled in order."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return None


class PerPersonProcessor(BaseUpdateProcessor):
    """Each person's updates in order, different people's concurrently (at most
    `HANDLED_AT_ONCE` at a time)."""

    def __init__(self, handled_at_once: int = HANDLED_AT_ONCE) -> None:
        # PTB's own limit counts updates waiting for their person too; the real limit is
        # the inner one, taken only once it is the update's turn.
        super().__init__(max_concurrent_updates=100_000)
        self._busy = asyncio.BoundedSemaphore(handled_at_once)
        self._lanes: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = person_of(update)
        if key is None:
            async with self._busy:
                await coroutine
            return
        lock, waiting = self._lanes.get(key, (asyncio.Lock(), 0))
        self._lanes[key] = (lock, waiting + 1)
        try:
            async with lock:
                if self._lanes[key][1] > SANE_BURST:
                    # This person sent many at once: slowed down, for themselves only, so
                    # their burst doesn't take the event loop from everyone else.
                    await asyncio.sleep(SLOW_DOWN)
                async with self._busy:
                    await coroutine
        finally:
            lock, waiting = self._lanes[key]
            if waiting <= 1:
                del self._lanes[key]
            else:
                self._lanes[key] = (lock, waiting - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to free."""
