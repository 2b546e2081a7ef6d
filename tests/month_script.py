"""Helpers for the simulated month (tests/test_simulated_month.py): the bot as a real
process that can be SIGKILLed, its clock in a file, people acting through the fake Bot
API, and a ledger of promised messages checked against what Telegram (the fake) delivered.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock import FAKE_CLOCK_FILE_ENV, FileClock
from bot.fake_telegram import FakeTelegram
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID

ROOT = Path(__file__).resolve().parents[1]

# Sends whose arrival is a promise kept (or broken). Edits and callback answers are not.
SENDING_METHODS = ("sendMessage", "sendDocument", "sendPoll", "copyMessage", "sendPhoto")

Promise = tuple[int, str]  # (recipient chat id, kind)


# Recognising promised messages --------------------------------------------------------------


def kind_of(message: Any) -> str | None:
    """The promise a delivered message keeps, from distinctive (mostly Danish) fragments;
    None for the interactive replies the month does not count (menus, previews...)."""
    first = message.edits[0] if message.edits else message  # as it arrived (later edited)
    text = first.get("text") or first.get("caption") or ""
    if message.method == "copyMessage":
        return "broadcast:" + text.split("\n", 1)[0][:40]
    if message.get("poll"):
        return "meeting poll"
    if text.startswith(("Velkommen, ", "Welcome, ")):
        return "welcome"
    if "Afstemningen om frivilligmødet lukker i morgen" in text or "closes tomorrow" in text:
        return "meeting nudge"
    if text.startswith("Frivilligmødet bliver "):
        return "meeting decision"
    if text.startswith("Frivilligmødet er fastsat til "):
        return "meeting picture for the coordinator"
    if "En lille påmindelse: frivilligmødet er " in text or "A little reminder: the vol" in text:
        return "meeting reminder " + day_sent(message)
    if text.startswith("Hej! Jeg har ikke fået referatet fra frivilligmødet"):
        return "minutes question"
    if text.startswith(("Her er referatet fra frivilligmødet", "Here are the minutes of the vol")):
        return "minutes copy"
    if text.startswith(("Påmindelse: ", "Reminder: ")):
        label = "K.L." if "K.L." in text else "P.J." if "P.J." in text else "?"
        return f"match reminder {label} {day_sent(message)}"
    if " har bedt om en pause" in text:
        return "pause notice"
    if " er tilbage fra sin pause" in text:
        return "return notice"
    if text.startswith(("Velkommen tilbage, ", "Welcome back, ")):
        return "welcome back"
    if text.startswith("Jeg er ikke sikker på, at afstemningen om frivilligmødet nåede frem"):
        return "poll uncertain"
    return None


def day_sent(message: Any) -> str:
    """The local day the message arrived (the fake dates messages by the test's clock)."""
    return datetime.fromtimestamp(message["date"], COPENHAGEN).strftime("%d/%m %H:%M")


def delivered(fake: FakeTelegram, chat_ids: list[int]) -> Counter[Promise]:
    """What Telegram delivered, by (chat, kind): messages that exist in the chat (a send
    answered late still arrived; a refused or dropped one did not)."""
    seen: Counter[Promise] = Counter()
    for chat_id in chat_ids:
        for message in fake.messages_to(chat_id):
            kind = kind_of(message)
            if kind is not None:
                seen[(chat_id, kind)] += 1
    return seen


# The bot as a real process ----------------------------------------------------------------


@dataclass
class Life:
    """One run of `peerbot run`, from start to SIGKILL (or the end)."""

    number: int
    pid: int
    first_call: int  # index into fake.calls when it started
    killed_at_call: int | None = None  # index into fake.calls when it was killed
    killed_how: str = ""


@dataclass
class BotProcess:
    """`python -m bot run` against the fake, with its clock in a file."""

    fake: FakeTelegram
    workdir: Path
    database_url: str
    clock_file: Path
    coordinator_id: int
    process: asyncio.subprocess.Process | None = None
    lives: list[Life] = field(default_factory=list)
    unexpected_exits: list[str] = field(default_factory=list)
    start_seconds: list[float] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": self.fake.token,
            "TELEGRAM_BASE_URL": self.fake.base_url,
            "DATABASE_URL": self.database_url,
            "GROUP_CHAT_ID": str(GROUP_CHAT_ID),
            "COORDINATOR_IDS": str(self.coordinator_id),
            # Passes run by themselves, often: the test only moves the clock.
            "SCHEDULER_INTERVAL_SECONDS": "0.2",
            FAKE_CLOCK_FILE_ENV: str(self.clock_file),
        }

    def set_time(self, moment: datetime) -> None:
        FileClock.write(self.clock_file, moment)

    async def start(self) -> None:
        # The bot's log, for reading a failure (a sync open: tiny, once per life).
        log = open(self.workdir / f"bot-{len(self.lives) + 1}.log", "wb")  # noqa: ASYNC230, SIM115
        first_call = len(self.fake.calls)
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            cwd=self.workdir,
            env=self.env(),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        log.close()
        self.lives.append(Life(len(self.lives) + 1, self.process.pid, first_call))
        began = time.monotonic()
        await self.wait_serving(first_call)
        self.start_seconds.append(time.monotonic() - began)

    async def wait_serving(self, since: int, timeout: float = 120.0) -> None:  # noqa: ASYNC109
        """Until this process polls for updates; restarts it when it dies starting (a
        fault on getMe or setMyCommands ends PTB's start-up, as a supervisor would see).
        Generous: with two busy loops beside it on 2 shared CPUs (load 15) a start took
        over 30 s (10 s of it imports); a process that dies starting is seen at once."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            assert self.process is not None
            if any(c.method == "getUpdates" for c in self.fake.calls[since:]):
                return
            if self.process.returncode is not None:
                self.unexpected_exits.append(
                    f"life {self.lives[-1].number} exited {self.process.returncode} at start"
                )
                await self.start()
                return
            assert loop.time() < deadline, "the bot did not start polling"
            await asyncio.sleep(0.02)

    def kill_now(self, how: str) -> None:
        """SIGKILL, synchronously: nothing of the fake runs between the caller and this."""
        assert self.process is not None and self.process.returncode is None
        os.kill(self.process.pid, signal.SIGKILL)
        life = self.lives[-1]
        life.killed_at_call, life.killed_how = len(self.fake.calls), how

    async def reap_and_restart(self) -> None:
        assert self.process is not None
        await self.process.wait()  # reaped: the lease sees the holder is gone
        await self.start()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()

    async def ensure_running(self) -> None:
        """A process that died on its own (e.g. a fault during start-up) is started again."""
        assert self.process is not None
        if self.process.returncode is not None:
            self.unexpected_exits.append(
                f"life {self.lives[-1].number} exited {self.process.returncode}"
            )
            await self.start()


class KillInSend:
    """SIGKILL the bot inside the fake, right after Telegram performed the n-th send of a
    step and before the bot hears the answer: the bot dies mid-work, with a message just
    delivered that it has not been told about."""

    def __init__(self, fake: FakeTelegram, bot: BotProcess) -> None:
        self.fake, self.bot = fake, bot
        self.armed_at: int | None = None
        self.count = 0
        self.fired = asyncio.Event()
        # (chat id, message id) Telegram had just delivered when the bot was killed.
        self.delivered_at_kill: list[tuple[int, int]] = []
        for method in SENDING_METHODS:
            original = fake._handlers[method]
            fake.add_handler(method, self._wrap(original))

    def _wrap(self, original: Callable[[dict], Any]) -> Callable[[dict], Any]:
        def handler(params: dict) -> Any:
            result = original(params)
            if self.armed_at is not None:
                self.count += 1
                if self.count >= self.armed_at:
                    self.armed_at = None
                    self.bot.kill_now(f"in send {self.count} ({params.get('chat_id')})")
                    if isinstance(result, dict):
                        self.delivered_at_kill.append((result["chat"]["id"], result["message_id"]))
                    self.fired.set()
            return result

        return handler

    def arm(self, nth: int) -> None:
        self.armed_at, self.count = nth, 0
        self.fired = asyncio.Event()

    def disarm(self) -> None:
        self.armed_at = None


# Waiting ------------------------------------------------------------------------------------


async def until(
    condition: Callable[[], bool],
    timeout: float,  # noqa: ASYNC109
    fake: FakeTelegram,
) -> bool:
    """Wait for `condition` (woken by every call the fake answers); False on time-out."""
    try:
        await fake.wait_for(lambda _c: condition(), timeout=timeout, since=len(fake.calls))
    except TimeoutError:
        return condition()
    return True


@dataclass
class KillPlan:
    """Which of the script's kill points fire: `count` of them, chosen by a seeded RNG."""

    seed: int
    count: int
    points: int
    chosen: set[int] = field(default_factory=set)
    seen: int = 0
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self.chosen = set(rng.sample(range(self.points), min(self.count, self.points)))
        self.rng = rng

    def next_point(self) -> bool:
        fire = self.seen in self.chosen
        self.seen += 1
        return fire
