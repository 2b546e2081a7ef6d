"""Benchmark (not a test): 200 local groups x 25 volunteers in one PeerBot on PostgreSQL.

One process, one bot token, one database: the real Application in-process (as
`bench/scale.py` runs its scheduling passes) against the fake Bot API with Telegram's flood
limits enforced from the poll minute on (30 messages a second overall, 20 a minute per
group, 1 a second per private chat with a burst of 3), PeerBot's own `PeerRateLimiter`.
Every group has its coordinator and its volunteers, who all opened the private chat; every
group keeps the default meeting settings, so all 200 monthly polls open at the same minute
(the 15th at 10:00). Prints:

1. per-update latency (queued on the fake -> the answer arrives) of a `/start` and of a
   text the bot does not know, people of every group one after another at 25 a second;
   the same on a database with one group of 25, for the ratio;
2. the scheduling pass over 200 groups with nothing due (wall and CPU seconds);
3. the poll minute: the pass that opens 200 polls, the time until the last group's poll is
   out, each group's lateness (the poll out -> the minute began) and its spread from the
   first group's, and every 429 Telegram answered;
4. a broadcast per group: the 200 coordinators tap Send within a moment of each other
   (5,000 copies); wall time and messages a second against the 30/s ceiling, copies lost and
   duplicated, 429s, when each group's first copy went out, and a volunteer's `/start`
   answered meanwhile.

PostgreSQL: `--database-url postgresql+asyncpg://user@host:port` (databases are created
there), else a throwaway server started as the tests start theirs (`tests/postgres.py`:
initdb, fsync and synchronous commit off).

    python -m bench.groups [--groups 200] [--volunteers 25] [--samples 300] [--json out.json]

`main(...)` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Latencies, Pace, percentile, sent_to
from bot.clock import FakeClock
from bot.config import Settings
from bot.domain import groups, people
from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.server import FakeUser
from bot.ratelimit import PeerRateLimiter
from bot.runner import running_bot
from bot.sandbox import COPENHAGEN
from storage.db import Database
from storage.migrate import upgrade

# Every group's poll opens on the 15th at 10:00 (MEETING_POLL_OPENS' default).
BEFORE = datetime(2026, 12, 15, 9, 50, tzinfo=COPENHAGEN)
POLL_MINUTE = datetime(2026, 12, 15, 10, 0, tzinfo=COPENHAGEN)
FIRST_CHAT = -1_004_000_000_000
FIRST_COORDINATOR = 4_000_000
FIRST_VOLUNTEER = 5_000_000
PACE = 25.0  # updates a second, as bench/latency.py
CEILING = 30.0
TEXT = "Førstehjælpskursus: tirsdag 9. december kl. 17.00 i Frivilligcentret. Tilmeld dig her."
DONE = "Din besked er sendt."


class Association:
    """The people of `groups` groups: chat ids, coordinators and volunteers."""

    def __init__(self, count: int, volunteers: int) -> None:
        self.chats = [FIRST_CHAT - g for g in range(count)]
        self.coordinators = [FIRST_COORDINATOR + g for g in range(count)]
        self.volunteers = [
            [FIRST_VOLUNTEER + g * 1000 + v for v in range(volunteers)] for g in range(count)
        ]

    def group_of(self, user_id: int) -> int:
        if user_id < FIRST_VOLUNTEER:
            return user_id - FIRST_COORDINATOR
        return (user_id - FIRST_VOLUNTEER) // 1000

    def populate(self, fake: FakeTelegram) -> None:
        for g, chat_id in enumerate(self.chats):
            fake.add_group(chat_id, f"Frivillige {g}", supergroup=True)
            fake.set_bot_status(chat_id, "administrator")
            coordinator = fake.add_user(self.coordinators[g], f"Koordinator {g}")
            coordinator.started = True
            fake.set_member(chat_id, coordinator.id, "administrator")
            for user_id in self.volunteers[g]:
                fake.add_user(user_id, f"Frivillig {user_id}").started = True
                fake.set_member(chat_id, user_id, "member")

    async def seed(self, db: Database, now: datetime) -> None:
        """Groups and people through the domain's own functions, as /setup and joins do."""
        for g, chat_id in enumerate(self.chats):
            async with db.transaction() as session:
                group = await groups.add_group(
                    session, chat_id, now, coordinator_ids=[self.coordinators[g]]
                )
                for user_id in [self.coordinators[g], *self.volunteers[g]]:
                    who = people.TelegramPerson(user_id, f"F{user_id}", None, "da")
                    await people.record_member(session, group.id, who, now, started_bot=True)


@contextlib.asynccontextmanager
async def postgres(url: str | None) -> AsyncIterator[str]:
    """A server's base URL: the one given, or a throwaway one for this run."""
    if url:
        yield url
        return
    from tests.postgres import PostgresServer

    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.stop()


async def new_database(base_url: str) -> str:
    from tests.postgres import create_database

    return await create_database(base_url, f"bench_{uuid.uuid4().hex[:10]}")


def settings_for(fake: FakeTelegram, database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token=fake.token,
        telegram_base_url=fake.base_url,
        database_url=database_url,
        # The bench moves time and runs the passes itself; the timer stays out.
        scheduler_interval_seconds=3600.0,
    )


@contextlib.asynccontextmanager
async def association_bot(
    base_url: str, count: int, volunteers: int
) -> AsyncIterator[tuple[FakeTelegram, Any, FakeClock, Association, float]]:
    """A fresh database with `count` groups, the fake Bot API and PeerBot running on it."""
    association = Association(count, volunteers)
    url = await new_database(base_url)
    db = Database(url)
    await upgrade(db.engine)
    began = time.perf_counter()
    await association.seed(db, BEFORE)
    seeded = time.perf_counter() - began
    await db.dispose()
    clock = FakeClock(BEFORE)
    async with FakeTelegram() as fake:
        association.populate(fake)
        settings = settings_for(fake, url)
        async with running_bot(settings, clock, rate_limiter=PeerRateLimiter()) as app:
            scheduler = app.bot_data["services"].scheduler
            await asyncio.wait_for(scheduler.wait_for_rounds(1), timeout=300)
            await fake.wait_until_idle(timeout=60, quiet=0.5)
            yield fake, app, clock, association, seeded


# 1. Per-update latency ---------------------------------------------------------------------


async def update_latencies(
    fake: FakeTelegram, association: Association, samples: int
) -> tuple[Latencies, Latencies]:
    """`/start`, then `/ping` (a command the bot does not know: its fallback answers), from
    people of every group in turn, at PACE a second; queued -> the bot's answer."""
    pace = Pace(PACE)
    everyone = [u for pair in zip(*association.volunteers, strict=True) for u in pair]
    people_ = [everyone[n % len(everyone)] for n in range(samples)]  # again from the first
    start, other = Latencies("/start"), Latencies("/ping (unknown)")
    for text, figures in (("/start", start), ("/ping", other)):
        for user_id in people_:
            await pace.wait()
            since = len(fake.calls)
            fake.send_text(fake.users[user_id], user_id, text)
            queued = time.monotonic()
            call = await fake.wait_for(sent_to(user_id), timeout=30, since=since)
            figures.seconds.append(call.time - queued)
    return start, other


# 2. and 3. The scheduling pass and the poll minute ------------------------------------------


async def quiet_passes(app: Any, rounds: int = 3) -> tuple[float, float]:
    """Median wall and CPU seconds of a round of passes with nothing due."""
    scheduler = app.bot_data["services"].scheduler
    walls, cpus = [], []
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        await scheduler.run_due(app)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


async def poll_minute(
    fake: FakeTelegram, app: Any, clock: FakeClock, association: Association
) -> dict[str, Any]:
    """The minute every group's poll opens: one round of passes, until every poll is out."""
    scheduler = app.bot_data["services"].scheduler
    since = len(fake.calls)
    clock.set(POLL_MINUTE)
    began = time.monotonic()
    cpu = time.process_time()
    await scheduler.run_due(app)
    round_seconds = time.monotonic() - began
    count = len(association.chats)

    def polls() -> list[Any]:
        return [c for c in fake.calls[since:] if c.method == "sendPoll" and c.ok]

    await _until(lambda: len(polls()) >= count, 300)
    await fake.wait_until_idle(timeout=60, quiet=0.5)
    cpu = time.process_time() - cpu
    out: dict[int, float] = {}
    for call in polls():
        out.setdefault(call.params["chat_id"], call.time - began)
    lateness = sorted(out.values())
    calls = fake.calls[since:]
    return {
        "groups": count,
        "polls_out": len(out),
        "polls_duplicated": len(polls()) - len(out),
        "round_seconds": round(round_seconds, 2),
        "round_cpu_seconds": round(cpu, 2),
        "first_poll_seconds": round(lateness[0], 2) if lateness else None,
        "last_poll_seconds": round(lateness[-1], 2) if lateness else None,
        "median_poll_seconds": round(statistics.median(lateness), 2) if lateness else None,
        "spread_seconds": round(lateness[-1] - lateness[0], 2) if lateness else None,
        "messages_sent": sum(1 for c in calls if c.ok and _posts(c.method)),
        "too_many_requests": sum(1 for c in calls if c.status == 429),
    }


def _posts(method: str) -> bool:
    return (method.startswith("send") and method != "sendChatAction") or method in (
        "copyMessage",
        "forwardMessage",
    )


# 4. A broadcast per group -------------------------------------------------------------------


def _control(fake: FakeTelegram, user_id: int, since: int) -> Any:
    for message in reversed(fake.messages_to(user_id)[since:]):
        if any(b.get("callback_data", "").startswith("broadcast:") for b in message.buttons):
            return message
    return None


def _button(message: Any, prefix: str, suffix: str = "") -> str:
    return next(
        b["callback_data"]
        for b in message.buttons
        if b["callback_data"].startswith(prefix) and b["callback_data"].endswith(suffix)
    )


async def _until(predicate: Callable[[], Any], within: float) -> Any:
    deadline = time.monotonic() + within
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError("the bench waited in vain")
        await asyncio.sleep(0.05)
    return value


async def _ready_to_send(fake: FakeTelegram, coordinator: FakeUser) -> Any:
    """`/broadcast <text>`, to the volunteers, not important: the control message, at Send."""
    before = len(fake.messages_to(coordinator.id))
    fake.send_text(coordinator, coordinator.id, f"/broadcast {TEXT}")
    control = await _until(lambda: _control(fake, coordinator.id, before), 60)
    for prefix, suffix in (("broadcast:aud:", ":volunteers"), ("broadcast:imp:", ":0")):
        text = control.text
        fake.tap_button(coordinator, control, _button(control, prefix, suffix))
        await _until(lambda text=text: control.text != text, 60)
    return control


async def broadcasts(fake: FakeTelegram, association: Association) -> dict[str, Any]:
    """Every coordinator prepares a broadcast to the group's volunteers; then all tap Send
    within a moment of each other."""
    coordinators = [fake.users[c] for c in association.coordinators]
    ready = asyncio.Semaphore(8)  # coordinators preparing at once (people, not a flood)

    async def prepare(coordinator: FakeUser) -> Any:
        async with ready:
            return await _ready_to_send(fake, coordinator)

    controls = await asyncio.gather(*(prepare(c) for c in coordinators))
    await fake.wait_until_idle(timeout=60, quiet=0.5)
    since = len(fake.calls)
    began = time.monotonic()
    for coordinator, control in zip(coordinators, controls, strict=True):
        fake.tap_button(coordinator, control, _button(control, "broadcast:send:"))
    # A volunteer of the last group asks something while the copies go out.
    total = sum(len(v) for v in association.volunteers)
    await asyncio.sleep(min(10.0, total / 100))
    asker = fake.users[association.volunteers[-1][-1]]
    asked_since = len(fake.calls)
    fake.send_text(asker, asker.id, "/start")
    asked = time.monotonic()
    try:
        answer = await fake.wait_for(sent_to(asker.id), timeout=120, since=asked_since)
        reply_ms: int | None = round((answer.time - asked) * 1000)
    except TimeoutError:
        reply_ms = None  # not within two minutes

    def unfinished() -> int:
        return sum(1 for c in controls if not (c.text or "").startswith(DONE))

    # At 20 messages a second at least; else the figures say how many never finished.
    with contextlib.suppress(TimeoutError):
        await _until(lambda: not unfinished(), total / 20 + 120)
    await fake.wait_until_idle(timeout=60, quiet=0.5)

    calls = fake.calls[since:]
    copies = [c for c in calls if c.method == "copyMessage" and c.ok]
    per_person = Counter(c.params["chat_id"] for c in copies)
    everyone = [u for group in association.volunteers for u in group]
    wall = max(c.time for c in copies) - began if copies else 0.0
    first_copy: dict[int, float] = {}
    last_copy: dict[int, float] = {}
    for call in copies:
        group = association.group_of(call.params["chat_id"])
        first_copy.setdefault(group, call.time - began)
        last_copy[group] = call.time - began
    firsts = sorted(first_copy.values())
    lasts = sorted(last_copy.values())
    return {
        "copies": len(copies),
        "recipients": len(everyone),
        "wall_seconds": round(wall, 1),
        "per_second": round(len(copies) / wall, 1) if wall else 0.0,
        "of_ceiling": round(len(copies) / wall / CEILING, 3) if wall else 0.0,
        "lost": sum(1 for u in everyone if per_person[u] == 0),
        "duplicated": sum(per_person[u] - 1 for u in everyone if per_person[u] > 1),
        "too_many_requests": sum(1 for c in calls if c.status == 429),
        "reports_unfinished": unfinished(),
        "first_copy_p50_seconds": round(percentile(firsts, 50), 1),
        "first_copy_max_seconds": round(firsts[-1], 1) if firsts else None,
        "group_done_min_seconds": round(lasts[0], 1) if lasts else None,
        "group_done_max_seconds": round(lasts[-1], 1) if lasts else None,
        "volunteer_start_during_ms": reply_ms,
    }


# The run ------------------------------------------------------------------------------------


async def run(
    count: int = 200, volunteers: int = 25, samples: int = 300, database_url: str | None = None
) -> dict[str, Any]:
    figures: dict[str, Any] = {"groups": count, "volunteers_per_group": volunteers}
    async with postgres(database_url) as base_url:
        async with association_bot(base_url, 1, volunteers) as (fake, _app, _clock, one, _s):
            start_one, other_one = await update_latencies(fake, one, samples)
        figures["one_group"] = {"start": start_one.as_dict(), "unknown": other_one.as_dict()}
        print(
            f"  one group of {volunteers}: /start p50/p99 {start_one.p50_ms:.1f}/"
            f"{start_one.p99_ms:.1f} ms, /ping {other_one.p50_ms:.1f}/"
            f"{other_one.p99_ms:.1f} ms",
            flush=True,
        )
        async with association_bot(base_url, count, volunteers) as (fake, app, clock, many, s):
            figures["seed_seconds"] = round(s, 1)
            start, other = await update_latencies(fake, many, samples)
            figures["many_groups"] = {"start": start.as_dict(), "unknown": other.as_dict()}
            print(
                f"  {count} groups (seeded in {s:.0f} s): /start p50/p99 {start.p50_ms:.1f}/"
                f"{start.p99_ms:.1f} ms, /ping {other.p50_ms:.1f}/{other.p99_ms:.1f} ms",
                flush=True,
            )
            wall, cpu = await quiet_passes(app)
            figures["quiet_pass"] = {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2)}
            print(f"  a scheduling round with nothing due: {wall:.2f} s ({cpu:.2f} s CPU)")
            fake.enforce_rate_limits()  # Telegram's limits from here on
            clock.advance(timedelta(minutes=1))
            figures["poll_minute"] = minute = await poll_minute(fake, app, clock, many)
            print(
                f"  the poll minute: {minute['polls_out']} of {count} polls out, the last "
                f"{minute['last_poll_seconds']} s after the minute began (first "
                f"{minute['first_poll_seconds']} s, spread {minute['spread_seconds']} s); "
                f"the round {minute['round_seconds']} s; 429s: {minute['too_many_requests']}",
                flush=True,
            )
            figures["broadcasts"] = sent = await broadcasts(fake, many)
            print(
                f"  a broadcast per group: {sent['copies']} copies in {sent['wall_seconds']} s, "
                f"{sent['per_second']} msg/s ({sent['of_ceiling']:.1%} of 30/s); lost "
                f"{sent['lost']}, duplicated {sent['duplicated']}, 429s "
                f"{sent['too_many_requests']}; each group's first copy within "
                f"{sent['first_copy_max_seconds']} s (p50 {sent['first_copy_p50_seconds']} s), "
                f"groups done between {sent['group_done_min_seconds']} and "
                f"{sent['group_done_max_seconds']} s; a /start meanwhile answered in "
                f"{sent['volunteer_start_during_ms']} ms; reports unfinished: "
                f"{sent['reports_unfinished']}",
                flush=True,
            )
            figures["spec_violations"] = len(fake.spec_violations)
    return figures


def main(
    count: int = 200, volunteers: int = 25, samples: int = 300, database_url: str | None = None
) -> dict[str, Any]:
    """Run the benchmark, print its lines; returns the figures."""
    logging.basicConfig(level=logging.ERROR)
    # Stopped with SIGTERM, the throwaway PostgreSQL server is still stopped (`finally`).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"{count} groups x {volunteers} volunteers in one PeerBot on PostgreSQL", flush=True)
    return asyncio.run(run(count, volunteers, samples, database_url))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--volunteers", type=int, default=25)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    arguments = parser.parse_args()
    found = main(arguments.groups, arguments.volunteers, arguments.samples, arguments.database_url)
    if arguments.json:
        arguments.json.write_text(json.dumps(found, indent=2))
