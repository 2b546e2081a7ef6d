"""The floor and PeerBot side by side, each as a real process against the fake Bot API.

For each bot: the time from process start to its first getUpdates, resident memory after
start and after the run (well over 1,000 handled updates), and the latency per update of
three things people do:

- a greeting: `/start` for PeerBot (a group member's first one: registers them), `/ping`
  for the floor. Latency: the update queued on the fake -> the bot's sendMessage arrives.
- a poll answer on a real open poll (PeerBot: the coordinator's `/meetingpoll`; the floor:
  a poll the harness posts). A poll answer is not answered, so each one is queued together
  with a follow-up `/ping` from the same person (the floor answers "pong", PeerBot's
  fallback for private texts it doesn't know answers "I didn't quite understand that");
  one person's updates are handled in order, so that answer comes only after the poll
  answer was handled (and, for the floor, which asks for every kind of update, the `poll`
  update Telegram sends with each vote; PeerBot does not ask for those). The figure (and its
  target) is queued -> that answer; the poll answer's own share is estimated too: that time
  minus the median of the `/ping` alone (measured just before), a few ms at most, for the
  floor (no handler) close to 0.
- a button tap on a real button (PeerBot: "day before" in `/settings` -> "My meeting
  reminders", which saves the preference and edits the message; the floor: the button on
  its `pong`). Latency: queued -> answerCallbackQuery arrives.

People act one after another at `PACE` updates a second (below Telegram's 30 messages a
second, so PeerBot's own rate limiter never holds an answer back) and each greeting comes
from a different person (1,000 group members), so the per-chat limit (about one message a
second in a private chat, burst 3) never applies either.

    python -m bench.latency [--people 1000] [--greetings 400] [--polls 300] [--taps 300]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Bot

from bench.common import (
    PYTHON,
    BotProcess,
    Latencies,
    Pace,
    answered,
    answered_query,
    bot_env,
    sent_to,
    start_process,
    updates_delivered,
)
from bot.fake_telegram import FakeTelegram
from bot.fake_telegram.server import FakeUser, SentMessage
from bot.sandbox import GROUP_CHAT_ID

PACE = 25.0  # updates a second
COORDINATOR = 1001
FIRST_PERSON = 3_000_000


@dataclass
class Sizes:
    people: int = 1000
    greetings: int = 400
    polls: int = 300  # from people who said hello (registered volunteers)
    taps: int = 300
    tappers: int = 50  # each taps taps/tappers times, on their own message
    baseline: int = 100  # the follow-up alone


@dataclass
class BotRun:
    """The figures of one bot."""

    name: str
    start_seconds: float = 0.0
    rss_start_mb: float = 0.0
    rss_end_mb: float = 0.0
    peak_rss_mb: float = 0.0
    updates: int = 0
    greeting: Latencies = field(default_factory=lambda: Latencies("greeting"))
    follow_up: Latencies = field(default_factory=lambda: Latencies("/ping alone"))
    poll: Latencies = field(default_factory=lambda: Latencies("poll answer + /ping"))
    vote_only: Latencies = field(default_factory=lambda: Latencies("poll answer alone (est.)"))
    tap: Latencies = field(default_factory=lambda: Latencies("button tap"))
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start_seconds": round(self.start_seconds, 3),
            "rss_start_mb": round(self.rss_start_mb, 1),
            "rss_end_mb": round(self.rss_end_mb, 1),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "updates_handled": self.updates,
            "greeting": self.greeting.as_dict(),
            "follow_up_alone": self.follow_up.as_dict(),
            "poll_answer": self.poll.as_dict(),
            "poll_answer_alone_estimate": self.vote_only.as_dict(),
            "button_tap": self.tap.as_dict(),
            "wall_seconds": round(self.seconds, 1),
        }


def populate(fake: FakeTelegram, count: int) -> list[FakeUser]:
    """The group, the bot as its administrator, a coordinator and `count` members."""
    fake.add_group(GROUP_CHAT_ID, "Frivillige", supergroup=True)
    fake.set_bot_status(GROUP_CHAT_ID, "administrator")
    fake.add_user(COORDINATOR, "Mette", username="mette_koordinator")
    fake.set_member(GROUP_CHAT_ID, COORDINATOR, "administrator")
    people = []
    for i in range(count):
        person = fake.add_user(FIRST_PERSON + i, f"Frivillig{i}")
        fake.set_member(GROUP_CHAT_ID, person.id, "member")
        people.append(person)
    return people


class Contender:
    """How one bot is started and what its greeting, follow-up and button are."""

    name = ""
    greeting = ""
    greeted_with = ""  # the answer to a greeting starts so (not a refusal)
    follow_up = ""

    async def start(self, fake: FakeTelegram, folder: Path) -> BotProcess:
        raise NotImplementedError

    async def open_poll(self, fake: FakeTelegram) -> str:
        raise NotImplementedError

    async def button(self, fake: FakeTelegram, person: FakeUser) -> tuple[SentMessage, str]:
        """A message in `person`'s chat with a button to tap, and that button's data."""
        raise NotImplementedError


class Floor(Contender):
    name = "floor (bare PTB)"
    greeting = "/ping"
    greeted_with = "pong"
    follow_up = "/ping"

    async def start(self, fake: FakeTelegram, folder: Path) -> BotProcess:
        script = str(Path(__file__).with_name("floor_bot.py"))
        return await start_process(
            fake, self.name, [script], bot_env(fake), folder, folder / "floor.log"
        )

    async def open_poll(self, fake: FakeTelegram) -> str:
        # Someone posts a poll in the group (the harness, with the same token).
        async with Bot(fake.token, base_url=fake.base_url) as poster:
            message = await poster.send_poll(
                GROUP_CHAT_ID,
                "Hvornår passer det?",
                ["tirsdag", "onsdag", "torsdag", "ingen af dagene"],
                is_anonymous=False,
                allows_multiple_answers=True,
            )
        assert message.poll is not None
        return message.poll.id

    async def button(self, fake: FakeTelegram, person: FakeUser) -> tuple[SentMessage, str]:
        pong = fake.last_message_to(person.id)
        assert pong is not None and pong.buttons, "the floor's pong has no button"
        return pong, "ping:again"


class PeerBot(Contender):
    name = "PeerBot"
    greeting = "/start"
    greeted_with = "Velkommen"
    follow_up = "/ping"  # no such command: the fallback for unknown private texts answers

    def __init__(self, database: Path) -> None:
        self.database = database

    def env(self, fake: FakeTelegram) -> dict[str, str]:
        return bot_env(
            fake,
            DATABASE_URL=f"sqlite:///{self.database}",
            GROUP_CHAT_ID=str(GROUP_CHAT_ID),
            COORDINATOR_IDS=str(COORDINATOR),
        )

    async def start(self, fake: FakeTelegram, folder: Path) -> BotProcess:
        return await start_process(
            fake, self.name, ["-m", "bot", "run"], self.env(fake), folder, folder / "peerbot.log"
        )

    async def open_poll(self, fake: FakeTelegram) -> str:
        since = len(fake.calls)
        fake.send_text(COORDINATOR, COORDINATOR, "/start")
        await answered(fake, since, sent_to(COORDINATOR))
        since = len(fake.calls)
        fake.send_text(COORDINATOR, COORDINATOR, "/meetingpoll")
        poll = await answered(fake, since, lambda c: c.method == "sendPoll" and c.ok)
        await answered(fake, since, sent_to(COORDINATOR))
        return str(poll.result["poll"]["id"])

    async def button(self, fake: FakeTelegram, person: FakeUser) -> tuple[SentMessage, str]:
        since = len(fake.calls)
        fake.send_text(person, person.id, "/settings")
        await answered(fake, since, sent_to(person.id))
        menu = fake.last_message_to(person.id)
        assert menu is not None
        since = len(fake.calls)
        fake.tap_button(person, menu, "reminders:settings")
        await answered(fake, since, sent_to(person.id))
        view = fake.last_message_to(person.id)
        assert view is not None and any(b["callback_data"] == "reminders:day" for b in view.buttons)
        return view, "reminders:day"


async def _timed(fake: FakeTelegram, act: Callable[[], Any], until: Callable[[Any], Any]) -> float:
    since = len(fake.calls)
    acted = act()
    queued = time.monotonic()
    call = await answered(fake, since, until(acted))
    return call.time - queued


async def measure(contender: Contender, sizes: Sizes, folder: Path) -> BotRun:
    run = BotRun(contender.name)
    began = time.monotonic()
    async with FakeTelegram() as fake:
        people = populate(fake, sizes.people)
        bot = await contender.start(fake, folder)
        try:
            run.start_seconds = bot.started_after
            await fake.wait_until_idle(timeout=60, quiet=1.0)  # the start-up pass is done
            run.rss_start_mb = bot.rss_mb()
            await _measure_updates(fake, contender, people, sizes, run)
            await fake.wait_until_idle(timeout=60, quiet=0.5)
            run.updates = updates_delivered(fake)
            run.rss_end_mb = bot.rss_mb()
            run.peak_rss_mb = bot.peak_rss_mb()
        finally:
            await bot.stop()
        if fake.spec_violations:
            print(f"  {contender.name}: {len(fake.spec_violations)} spec violations", flush=True)
    run.seconds = time.monotonic() - began
    return run


async def _measure_updates(
    fake: FakeTelegram, contender: Contender, people: list[FakeUser], sizes: Sizes, run: BotRun
) -> None:
    pace = Pace(PACE)
    poll_id = await contender.open_poll(fake)

    async def each(people_: list[FakeUser], step: Callable[[FakeUser], Awaitable[None]]) -> None:
        for person in people_:
            await pace.wait()
            await step(person)

    async def greet(person: FakeUser) -> None:
        run.greeting.seconds.append(
            await _timed(
                fake,
                lambda: fake.send_text(person, person.id, contender.greeting),
                lambda _: sent_to(person.id),
            )
        )

    async def follow_up(person: FakeUser) -> None:
        run.follow_up.seconds.append(
            await _timed(
                fake,
                lambda: fake.send_text(person, person.id, contender.follow_up),
                lambda _: sent_to(person.id),
            )
        )

    greeted = people[: sizes.greetings]
    await each(greeted, greet)
    welcome = fake.messages_to(greeted[-1].id)[0].text or ""
    assert welcome.startswith(contender.greeted_with), f"{contender.name}: {welcome[:40]!r}"
    await each(greeted[: sizes.baseline], follow_up)
    alone = statistics.median(run.follow_up.seconds)

    voters = greeted[: sizes.polls]
    votes = iter(range(len(voters)))

    async def vote(person: FakeUser) -> None:
        def both() -> None:
            fake.answer_poll(person, poll_id, [next(votes) % 3])
            fake.send_text(person, person.id, contender.follow_up)

        pair = await _timed(fake, both, lambda _: sent_to(person.id))
        run.poll.seconds.append(pair)
        run.vote_only.seconds.append(max(pair - alone, 0.0))

    await each(voters, vote)

    tappers = greeted[: sizes.tappers]
    buttons = [await contender.button(fake, person) for person in tappers]
    await fake.wait_until_idle(timeout=60, quiet=0.3)
    for _round in range(max(1, sizes.taps // max(1, len(tappers)))):
        for person, (message, data) in zip(tappers, buttons, strict=True):
            await pace.wait()
            run.tap.seconds.append(
                await _timed(
                    fake,
                    lambda p=person, m=message, d=data: fake.tap_button(p, m, d),
                    lambda query: answered_query(query["id"]),
                )
            )


async def migrate(contender: PeerBot, folder: Path) -> float:
    """Bring PeerBot's database up to date first (a restart, not a first install, is timed)."""
    async with FakeTelegram() as fake:
        began = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            PYTHON,
            "-m",
            "bot",
            "migrate",
            cwd=folder,
            env=contender.env(fake),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if await process.wait() != 0:
            raise RuntimeError("peerbot migrate failed")
        return time.monotonic() - began


async def run(sizes: Sizes | None = None) -> dict[str, Any]:
    sizes = sizes or Sizes()
    with tempfile.TemporaryDirectory(prefix="peerbot-bench-") as name:
        folder = Path(name)
        peerbot = PeerBot(folder / "peerbot.sqlite3")
        migrate_seconds = await migrate(peerbot, folder)
        floor = await measure(Floor(), sizes, folder)
        print(line(floor), flush=True)
        ours = await measure(peerbot, sizes, folder)
        print(line(ours), flush=True)
        with contextlib.closing(sqlite3.connect(peerbot.database)) as db:
            votes = db.execute("SELECT COUNT(DISTINCT person_id) FROM meeting_answers").fetchone()
        assert votes[0] == sizes.polls, f"PeerBot recorded {votes[0]} of {sizes.polls} votes"
    return {
        "sizes": sizes.__dict__,
        "pace_per_second": PACE,
        "migrate_seconds": round(migrate_seconds, 2),
        "floor": floor.as_dict(),
        "peerbot": ours.as_dict(),
    }


def line(r: BotRun) -> str:
    return (
        f"  {r.name:<17} start {r.start_seconds:5.2f} s  RSS {r.rss_start_mb:5.1f} -> "
        f"{r.rss_end_mb:5.1f} MiB ({r.updates} updates)  greeting p50/p99 "
        f"{r.greeting.p50_ms:5.1f}/{r.greeting.p99_ms:5.1f} ms  poll "
        f"{r.poll.p50_ms:5.1f}/{r.poll.p99_ms:5.1f} ms  tap {r.tap.p50_ms:5.1f}/"
        f"{r.tap.p99_ms:5.1f} ms  ({r.seconds:.0f} s)"
    )


def main(sizes: Sizes | None = None) -> dict[str, Any]:
    """Run the floor and PeerBot one after the other; print a line each; return figures."""
    return asyncio.run(run(sizes))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = Sizes()
    for key, value in defaults.__dict__.items():
        parser.add_argument(f"--{key}", type=int, default=value)
    main(Sizes(**vars(parser.parse_args())))
