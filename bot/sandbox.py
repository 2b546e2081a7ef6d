"""A simulated group: the fake Bot API server, the real bot against it, a controllable clock
and a cast of people. The demo plays scenes in it; the end-to-end tests drive it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from telegram.ext import Application

from bot.clock import FakeClock
from bot.config import Settings
from bot.context import Services
from bot.fake_telegram import FakeTelegram
from bot.ratelimit import PeerRateLimiter
from bot.runner import running_bot

GROUP_CHAT_ID = -100_200_300
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


@dataclass(frozen=True)
class Cast:
    """Telegram user ids of the people in the simulated group."""

    coordinator: Any
    volunteers: list[Any]
    stranger: Any


class Sandbox:
    """One simulated group with the real PeerBot serving it."""

    def __init__(self, fake: FakeTelegram, settings: Settings, clock: FakeClock) -> None:
        self.fake = fake
        self.settings = settings
        self.clock = clock
        self.app: Application | None = None
        self._delivered_before_start = 0
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def services(self) -> Services:
        assert self.app is not None, "the bot is not running"
        return self.app.bot_data["services"]

    async def start_bot(self) -> Application:
        self._stack = contextlib.AsyncExitStack()
        self.app = await self._stack.enter_async_context(
            running_bot(self.settings, self.clock, rate_limiter=sandbox_rate_limiter())
        )
        self._delivered_before_start = self._updates_delivered()
        # The JobQueue's catch-up round runs as soon as it has started; on a busy machine
        # it could otherwise land in the middle of the test's next step.
        scheduler = self.services.scheduler
        try:
            await asyncio.wait_for(scheduler.wait_for_rounds(1), timeout=60)
        except TimeoutError:
            # Say where it hung (once a sign of the catch-up round armed for 0.1 s after
            # post_init: a slower start moved it an interval, an hour here, later).
            raise TimeoutError(
                f"the start-up round of scheduled passes did not finish in 60 s "
                f"(running: {scheduler.running_pass or 'none: the round never began'})"
            ) from None
        await self.settle()
        return self.app

    def _updates_delivered(self) -> int:
        # Distinct ids: an update still being handled is fetched again (bot/updateloop.py).
        return len(
            {
                u["update_id"]
                for c in self.fake.calls_to("getUpdates")
                if c.ok
                for u in c.result or []
            }
        )

    async def settle(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until the bot has fetched, handled and answered everything people did."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # Handled updates are counted below, so only a short quiet spell is needed for
            # sends that follow them (a background task, a scheduler pass).
            await self.fake.wait_until_idle(timeout=max(deadline - loop.time(), 0.1), quiet=0.03)
            delivered = self._updates_delivered() - self._delivered_before_start
            done = getattr(self.app, "updates_done", 0)
            running = self.app.bot_data.get("outbox_kicks", ()) if self.app else ()
            kicks = [t for t in running if not t.done()]
            if kicks and loop.time() < deadline:
                # The outbox sending in the background what an update promised.
                await asyncio.wait(kicks, timeout=deadline - loop.time())
                continue
            if done >= delivered:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"the bot handled {done} of {delivered} updates")
            await asyncio.sleep(0.01)

    async def stop_bot(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
        self._stack, self.app = None, None

    async def restart_bot(self) -> Application:
        await self.stop_bot()
        return await self.start_bot()

    # Acting as people ------------------------------------------------------------------

    async def say(self, user: Any, text: str, *, in_group: bool = False) -> None:
        """A person writes, in private (default) or in the group; waits for the bot."""
        chat_id = self.settings.group_chat_id if in_group else user.id
        self.fake.send_text(user, chat_id, text)
        await self.settle()

    async def tap(self, user: Any, message: dict, callback_data: str) -> None:
        self.fake.tap_button(user, message, callback_data)
        await self.settle()

    async def forge_tap(self, user: Any, message: dict, callback_data: str) -> None:
        """Hand-made button data on `message` (a modified client); waits for the bot."""
        self.fake.forge_tap(user, message, callback_data)
        await self.settle()

    async def vote(self, user: Any, poll_id: str, option_ids: list[int]) -> None:
        self.fake.answer_poll(user, poll_id, option_ids)
        await self.settle()

    # Time ------------------------------------------------------------------------------

    async def run_due(self) -> None:
        """One scheduler pass at the clock's current time, as the JobQueue would run it."""
        assert self.app is not None
        await self.services.scheduler.run_due(self.app)
        await self.settle()

    async def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        await self.run_due()

    async def advance_to(self, moment: datetime) -> None:
        self.clock.set(moment)
        await self.run_due()

    # Reading what the bot said ----------------------------------------------------------

    def texts_to(self, chat_id: int) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.fake.messages_to(chat_id)]

    def last_text_to(self, chat_id: int) -> str:
        texts = self.texts_to(chat_id)
        return texts[-1] if texts else ""


def sandbox_rate_limiter() -> PeerRateLimiter:
    """Telegram's limits, with roomier per-chat bursts: people in the sandbox tap within
    milliseconds of each other, where real people take seconds and the buckets refill."""
    return PeerRateLimiter(private_burst=30.0, group_burst=30.0)


def sandbox_settings(database_path: Path, fake: FakeTelegram, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": fake.token,
        "telegram_base_url": fake.base_url,
        "database_url": f"sqlite+aiosqlite:///{database_path}",
        "group_chat_id": GROUP_CHAT_ID,
        "coordinator_ids": "1001",
        "timezone": "Europe/Copenhagen",
        "language": "da",
        # Tests and the demo move time themselves and call run_due; the timer stays out.
        "scheduler_interval_seconds": 3600.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def populate(fake: FakeTelegram, *, supergroup: bool = True) -> Cast:
    """The simulated group: a coordinator, four volunteers, and a stranger outside it."""
    fake.add_group(GROUP_CHAT_ID, "Frivillige", supergroup=supergroup)
    fake.set_bot_status(GROUP_CHAT_ID, "administrator")
    coordinator = fake.add_user(1001, "Mette", username="mette_koordinator")
    volunteers = [
        fake.add_user(2001, "Anna", username="anna"),
        fake.add_user(2002, "Bo", username="bo_frivillig"),
        fake.add_user(2003, "Camilla", username="camilla", language_code="en"),
        fake.add_user(2004, "Dennis", username="dennis"),
    ]
    stranger = fake.add_user(9001, "Stranger", username="stranger", language_code="en")
    fake.set_member(GROUP_CHAT_ID, coordinator.id, "administrator")
    for volunteer in volunteers:
        fake.set_member(GROUP_CHAT_ID, volunteer.id, "member")
    return Cast(coordinator=coordinator, volunteers=volunteers, stranger=stranger)


@contextlib.asynccontextmanager
async def sandbox(
    database_path: Path,
    start: datetime | None = None,
    *,
    supergroup: bool = True,
    **settings: Any,
) -> AsyncIterator[tuple[Sandbox, Cast]]:
    """A running simulated group; the bot is started and stopped around the block."""
    clock = FakeClock(start or datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN))
    # Messages are dated by the group's clock too, not by the day the suite runs.
    async with FakeTelegram(now=lambda: clock.now().timestamp()) as fake:
        cast = populate(fake, supergroup=supergroup)
        box = Sandbox(fake, sandbox_settings(database_path, fake, **settings), clock)
        await box.start_bot()
        try:
            yield box, cast
        finally:
            await box.stop_bot()
