"""Benchmark (not a test): a broadcast to 1,000 volunteers at Telegram's speed limit.

Starts the fake Bot API with Telegram's flood limits enforced (30 messages a second
overall, 1 a second per private chat with a burst of 3, 20 a minute per group), registers
1,000 members who started the bot, and lets the coordinator broadcast through the REAL
application (`/broadcast` -> audience -> important -> Send). Prints the wall time, messages
a second as a fraction of the 30/s ceiling, the 429s received (and those in the first
second), the most attempts in any one second, and messages lost and duplicated. PeerBot
runs twice: with a healthy Bot API, and with 5% of the copies answered by a 5xx (500 or
502), which must cost neither speed nor copies. For comparison, in the same run:
python-telegram-bot's `AIORateLimiter` alone over `send_message`, and a plain
`asyncio.gather` over `send_message` with no limiter.

    /tmp/venv/bin/python -m bench.broadcast [--recipients 1000] [--skip-baselines]

`main(recipients=..., baselines=...)` returns the figures as dicts, for other scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

import bot.sandbox as sandbox_module
from bot.domain import people
from bot.fake_telegram import FakeTelegram
from bot.ratelimit import PeerRateLimiter
from bot.sandbox import GROUP_CHAT_ID, sandbox

CEILING = 30.0  # messages a second, Telegram's overall limit
FIRST_ID = 5_000_000
TEXT = "Førstehjælpskursus: tirsdag 9. december kl. 17.00 i Frivilligcentret. Tilmeld dig her."


@dataclass
class Result:
    name: str
    recipients: int
    wall_seconds: float
    delivered: int
    lost: int
    duplicated: int
    too_many_requests: int
    # 429s in the first second, and the most attempts Telegram saw in any one second.
    early_too_many: int = 0
    busiest_second: int = 0
    server_errors: int = 0
    # An interactive answer (/help) before and during the broadcast, in seconds.
    reply_seconds: tuple[float, float] | None = None

    @property
    def per_second(self) -> float:
        return self.delivered / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def of_ceiling(self) -> float:
        return self.per_second / CEILING

    def line(self) -> str:
        return (
            f"{self.name:<34} {self.wall_seconds:7.1f} s  {self.per_second:5.1f} msg/s "
            f"({self.of_ceiling:6.1%} of 30/s)  429s: {self.too_many_requests:5d}  "
            f"lost: {self.lost:4d}  duplicated: {self.duplicated:3d}\n{'':34} "
            f"429s in the first second: {self.early_too_many}  busiest second: "
            f"{self.busiest_second} attempts  5xx answered: {self.server_errors}"
        ) + (
            f"\n{'':34} a volunteer's /help answered in {self.reply_seconds[0] * 1000:.0f} ms "
            f"before, {self.reply_seconds[1] * 1000:.0f} ms during the broadcast"
            if self.reply_seconds
            else ""
        )


def _tally(fake: FakeTelegram, name: str, ids: list[int], method: str, started: float) -> Result:
    per_chat = Counter(
        c.chat_id for c in fake.calls if c.method == method and c.ok and c.chat_id in set(ids)
    )
    oks = [c.time for c in fake.calls if c.method == method and c.ok]
    wall = (max(oks) - started) if oks else 0.0
    attempts = sorted(c.time for c in fake.calls if c.method == method and c.time >= started)
    busiest = max(
        (sum(1 for t in attempts[i : i + 40] if t < start + 1) for i, start in enumerate(attempts)),
        default=0,
    )
    return Result(
        name=name,
        recipients=len(ids),
        wall_seconds=wall,
        delivered=sum(1 for i in ids if per_chat[i] >= 1),
        lost=sum(1 for i in ids if per_chat[i] == 0),
        duplicated=sum(per_chat[i] - 1 for i in ids if per_chat[i] > 1),
        too_many_requests=sum(1 for c in fake.calls if c.method == method and c.status == 429),
        early_too_many=sum(
            1
            for c in fake.calls
            if c.method == method and c.status == 429 and c.time < started + 1
        ),
        busiest_second=busiest,
        server_errors=sum(1 for c in fake.calls if c.method == method and c.status >= 500),
    )


async def through_peerbot(recipients: int, server_errors: float = 0.0) -> Result:
    """The real application: `/broadcast`, the choices, Send; until the report says done.
    With `server_errors`, that share of the copies is answered with a 500 or a 502."""
    # The production limiter, not the sandbox's (whose per-chat bursts are roomier).
    roomy = sandbox_module.sandbox_rate_limiter
    sandbox_module.sandbox_rate_limiter = PeerRateLimiter
    try:
        return await _through_peerbot(recipients, server_errors)
    finally:
        sandbox_module.sandbox_rate_limiter = roomy


async def _through_peerbot(recipients: int, server_errors: float) -> Result:
    with tempfile.TemporaryDirectory() as folder:
        async with sandbox(Path(folder) / "bench.sqlite3") as (box, cast):
            mette = cast.coordinator
            await box.say(mette, "/start")
            ids = list(range(FIRST_ID, FIRST_ID + recipients))
            for user_id in ids:
                user = box.fake.add_user(user_id, f"Frivillig {user_id - FIRST_ID}")
                user.started = True
                box.fake.set_member(GROUP_CHAT_ID, user_id, "member")
            async with box.services.db.transaction() as session:
                for user_id in ids:
                    who = people.TelegramPerson(user_id, f"F{user_id}", None, "da")
                    await people.record_member(
                        session, box.services.group_id, who, box.clock.now(), started_bot=True
                    )
            box.fake.enforce_rate_limits()  # Telegram's limits from here on
            await box.say(mette, f"/broadcast {TEXT}")
            control = box.fake.last_message_to(mette.id)
            assert control is not None and control.buttons, "no audience question"

            await box.tap(mette, control, _ends(control, ":volunteers"))
            await box.tap(mette, control, _ends(control, ":0"))  # not important
            anna = cast.volunteers[0]
            quiet_reply = await _reply_time(box, anna)
            if server_errors:
                box.fake.set_fault_rate(
                    server_errors, seed=13, kinds=("500", "502"), methods=frozenset({"copyMessage"})
                )
            started = time.monotonic()
            box.fake.tap_button(mette, control, _starts(control, "broadcast:send:"))
            await asyncio.sleep(min(10.0, recipients / 60))  # well into the broadcast
            busy_reply = await _reply_time(box, anna)
            while not (control.text or "").startswith("Din besked er sendt."):
                await asyncio.sleep(0.2)
                if time.monotonic() - started > recipients:  # far beyond any sane pace
                    raise TimeoutError("the broadcast did not finish")
            await box.fake.wait_until_idle(timeout=30)
            name = "PeerBot (PeerRateLimiter)" + (
                f", {server_errors:.0%} 5xx" if server_errors else ""
            )
            result = _tally(box.fake, name, ids, "copyMessage", started)
            result.reply_seconds = (quiet_reply, busy_reply)
            return result


async def _reply_time(box: Any, user: Any) -> float:
    """Seconds from a volunteer's /help to the bot's answer."""
    count = len(box.fake.messages_to(user.id))
    asked = time.monotonic()
    box.fake.send_text(user, user.id, "/help")
    await box.fake.wait_for(lambda _c: len(box.fake.messages_to(user.id)) > count, 30.0)
    return time.monotonic() - asked


def _starts(message: Any, prefix: str) -> str:
    return next(
        b["callback_data"] for b in message.buttons if b["callback_data"].startswith(prefix)
    )


def _ends(message: Any, suffix: str) -> str:
    return next(b["callback_data"] for b in message.buttons if b["callback_data"].endswith(suffix))


async def through_bare_bot(recipients: int, name: str, rate_limiter: Any) -> Result:
    """`asyncio.gather` over `send_message` to everyone, with or without a rate limiter."""
    async with FakeTelegram() as fake:
        ids = list(range(FIRST_ID, FIRST_ID + recipients))
        for user_id in ids:
            fake.add_user(user_id, f"F{user_id}").started = True
        fake.enforce_rate_limits()
        request = HTTPXRequest(connection_pool_size=128, pool_timeout=120.0, read_timeout=60.0)
        bot = ExtBot(
            fake.token,
            base_url=fake.base_url,
            base_file_url=fake.base_file_url,
            request=request,
            rate_limiter=rate_limiter,
        )
        async with bot:
            started = time.monotonic()

            async def send(chat_id: int) -> None:
                with contextlib.suppress(TelegramError):  # counted as lost
                    await bot.send_message(chat_id, TEXT)

            await asyncio.gather(*(send(i) for i in ids))
        return _tally(fake, name, ids, "sendMessage", started)


async def run(recipients: int = 1000, baselines: bool = True) -> list[Result]:
    results = [await through_peerbot(recipients)]
    print(results[-1].line(), flush=True)
    results.append(await through_peerbot(recipients, server_errors=0.05))
    print(results[-1].line(), flush=True)
    if baselines:
        results.append(
            await through_bare_bot(
                recipients, "PTB AIORateLimiter (max_retries=3)", AIORateLimiter(max_retries=3)
            )
        )
        print(results[-1].line(), flush=True)
        results.append(await through_bare_bot(recipients, "plain asyncio.gather", None))
        print(results[-1].line(), flush=True)
    return results


def main(recipients: int = 1000, baselines: bool = True) -> list[dict[str, Any]]:
    """Run the benchmark and print one line per contender; returns the figures."""
    logging.basicConfig(level=logging.ERROR)
    print(f"Broadcast to {recipients} recipients, fake Bot API with Telegram's limits enforced")
    results = asyncio.run(run(recipients, baselines))
    return [{**asdict(r), "per_second": r.per_second, "of_ceiling": r.of_ceiling} for r in results]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--skip-baselines", action="store_true")
    arguments = parser.parse_args()
    main(arguments.recipients, not arguments.skip_baselines)
