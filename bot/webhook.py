"""The webhook server Telegram posts updates to (`peerbot run --webhook`), in place of
python-telegram-bot's: it checks the secret token before reading a byte of the body, caps
the body at `MAX_BODY` (an update is a few kilobytes; PTB's server reads up to 100 MB
first), answers Telegram only once the update was handled (see bot/updateloop.py), and
logs an update it cannot read by its id only (never its content)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from typing import Any

from aiohttp import web
from telegram import Update

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class WebhookServer:
    """An aiohttp server on `listen:port` answering POSTs to `path`."""

    def __init__(
        self,
        bot: Any,
        update_queue: asyncio.Queue,
        *,
        listen: str,
        port: int,
        path: str,
        secret_token: str | None,
    ) -> None:
        self.bot = bot
        self.update_queue = update_queue
        self.listen, self.port = listen, port
        self.path = "/" + path.strip("/")
        self.secret = secret_token
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self.receive)
        # A stop waits at most 5 s for requests being handled (aiohttp's default is 60 s):
        # one Telegram hasn't had answered is simply delivered again.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)

    async def serve_forever(self, ready: asyncio.Event | None = None) -> None:
        """Start listening (returns at once; the server runs in the background)."""
        await self._runner.setup()
        await web.TCPSite(self._runner, self.listen, self.port).start()
        if ready is not None:
            ready.set()

    async def shutdown(self) -> None:
        await self._runner.cleanup()

    async def receive(self, request: web.Request) -> web.Response:
        if request.path.rstrip("/") != self.path.rstrip("/"):
            return web.Response(status=404)
        if request.method != "POST":
            return web.Response(status=405)
        given = request.headers.get(SECRET_HEADER, "")
        if self.secret and not hmac.compare_digest(given.encode(), self.secret.encode()):
            return web.Response(status=403)  # before the body is read
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.Response(status=413)
        try:
            data = json.loads(await request.read())
        except web.HTTPRequestEntityTooLarge:
            return web.Response(status=413)
        except ValueError:
            log.warning("webhook: a request that is not JSON was refused")
            return web.Response(status=400)
        update_id = data.get("update_id") if isinstance(data, dict) else None
        try:
            update = Update.de_json(data, self.bot)
        except Exception as error:  # whatever PTB raises, the content stays out of the log
            # Answered 200: Telegram would only send the same unreadable update again.
            log.error(
                "webhook: update %s could not be read (%s); it is skipped",
                update_id if isinstance(update_id, int) else "without an id",
                type(error).__name__,
            )
            return web.Response(status=200)
        if update is None:
            return web.Response(status=200)
        from bot.updateloop import UpdateRefused

        try:
            await self.update_queue.put(update)  # returns once the update was handled
        except UpdateRefused:
            return web.Response(status=503)  # Telegram keeps it and tries again later
        return web.Response(status=200)
