"""What the benchmarks share: bots as real processes against the fake Bot API server, their
memory, percentiles, and the pace at which people act.

Every bot runs as its own process (`python bench/floor_bot.py`, `python -m bot run`) with
TELEGRAM_BASE_URL pointing at `bot.fake_telegram.FakeTelegram` on 127.0.0.1, so nothing
ever reaches api.telegram.org. Times are `time.monotonic()` in the harness, the same clock
the fake stamps its calls with (`Call.time`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.server import Call

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def rss_mb(pid: int) -> float:
    """Resident memory of a process now (VmRSS from /proc), in MiB; 0 when unknown."""
    return _status_kb(pid, "VmRSS") / 1024


def peak_rss_mb(pid: int) -> float:
    """The highest resident memory the process has had (VmHWM), in MiB."""
    return _status_kb(pid, "VmHWM") / 1024


def _status_kb(pid: int, key: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), nearest-rank on the sorted values; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Latencies:
    """Seconds per update, with the figures the report prints."""

    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return percentile(self.seconds, 50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.seconds, 99) * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.seconds) * 1000 if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "count": len(self.seconds),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "mean_ms": round(self.mean_ms, 2),
        }


class Pace:
    """People act one after another, never faster than `per_second` (closed loop: the next
    update is queued once the previous one was answered and the interval has passed).
    Below Telegram's 30 messages a second, so PeerBot's own rate limiter never holds an
    answer back and the figures show the bot, not the limiter."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0

    async def wait(self) -> None:
        now = time.monotonic()
        if now < self._next:
            await asyncio.sleep(self._next - now)
        self._next = max(now, self._next) + self.interval


async def answered(
    fake: FakeTelegram,
    since: int,
    predicate: Callable[[Call], bool],
    timeout: float = 30.0,  # noqa: ASYNC109
) -> Call:
    """The first call after index `since` matching `predicate` (the bot's answer)."""
    return await fake.wait_for(predicate, timeout=timeout, since=since)


def sent_to(chat_id: int, *methods: str) -> Callable[[Call], bool]:
    wanted = set(methods or ("sendMessage",))
    return lambda c: c.method in wanted and c.ok and c.params.get("chat_id") == chat_id


def answered_query(query_id: str) -> Callable[[Call], bool]:
    return lambda c: (
        c.method == "answerCallbackQuery" and c.params.get("callback_query_id") == (query_id)
    )


def updates_delivered(fake: FakeTelegram) -> int:
    """Updates handed to the bot by getUpdates so far."""
    # Distinct ids: an update still being handled is fetched again (bot/updateloop.py).
    return len(
        {
            u["update_id"]
            for c in fake.calls
            if c.method == "getUpdates" and c.ok
            for u in c.result or []
        }
    )


def bot_env(fake: FakeTelegram, **extra: str) -> dict[str, str]:
    """A clean environment for a bot process: only the fake's address and what is given."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_BASE_URL": fake.base_url,
    }
    env.update(extra)
    return env


@dataclass
class BotProcess:
    """A bot running as its own process; `started_after` is from spawn to the first
    getUpdates the fake received."""

    name: str
    process: asyncio.subprocess.Process
    spawned_at: float
    started_after: float = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mb(self) -> float:
        return rss_mb(self.pid)

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.pid)

    async def stop(self, timeout: float = 20.0) -> int:  # noqa: ASYNC109
        """SIGTERM, then SIGKILL if it does not stop within `timeout` s."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        return self.process.returncode or 0


async def start_process(
    fake: FakeTelegram,
    name: str,
    args: Sequence[str],
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    timeout: float = 60.0,  # noqa: ASYNC109
) -> BotProcess:
    """Spawn `python <args>` and wait for its first getUpdates (its log goes to `log_path`).

    The fake stamps a call when it answers, and a long poll with nothing to fetch answers only
    after its timeout; so one update waits before the start (a private "hej" from someone
    outside the measurements, as when people write while the bot restarts) and the first
    getUpdates returns at once."""
    waiting = next(iter(fake.users.values()))
    fake.send_text(waiting, waiting.id, "hej")
    since = len(fake.calls)
    log = log_path.open("wb")
    spawned_at = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        PYTHON, *args, cwd=cwd, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
    )
    log.close()
    bot = BotProcess(name, process, spawned_at)
    try:
        first = await fake.wait_for(lambda c: c.method == "getUpdates", timeout, since=since)
    except TimeoutError:
        await bot.stop()
        raise RuntimeError(f"{name} did not poll; see {log_path}") from None
    bot.started_after = first.time - spawned_at
    return bot


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.1f}x" if floor > 0 else "-"


def table(rows: list[list[str]], header: list[str]) -> str:
    """A small Markdown table (it reads fine in a terminal too)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])
