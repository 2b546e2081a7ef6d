"""A simulated month under faults: the real `peerbot run` process against the fake Bot API,
which answers 10% of calls with 500, 502, a slow answer or a dropped connection, while the
bot is SIGKILLed at 20 seeded moments and started again each time. Every promised message
must arrive exactly once.

The month (Copenhagen time, from Monday 14 December 2026): everyone starts the bot; two
weekly matches (K.L. with Anna and Camilla on Tuesdays 10:00, P.J. with Dennis on Thursdays
15:00) are reminded the day before at 18:00 and two hours before; the January meeting poll
opens on 15 December, gets votes, nudges Dennis, closes on the 20th with a decision; Bo
pauses on the 16th and comes back on the 28th; the meeting on 5 January is reminded the day
before and two hours before; the coordinator sends the minutes (no command), corrects who
came with one tap in the preview and sends them to those who couldn't come; two broadcasts
(17 December to the group and volunteers, 6 January to the volunteers, important).

Kill moments (seeded, 20 of the script's kill points):
- "queued": right after people's actions were queued, before the bot could fetch them;
- "clock": right after the clock moved past due moments, before the bot's next pass;
- "in send": inside Telegram, right after it delivered the n-th message of a step and
  before the bot hears the answer (the bot dies mid-work, with unsent work left).
The clock lives in a file (bot.clock.FileClock); passes run every 0.2 s by themselves. The
killed process is reaped and the next one takes the single-instance lease at once (the
holder's process is gone: bot/domain/instance.py). Besides the random faults, the poll's
first post always gets a 502, so the "not sure it arrived" path (the coordinator reopens
it) runs every month.

Accepted windows, accounted for precisely in `explain` (anything else fails):
- minutes copies, meeting and match reminders, poll nudges, the meeting decision's post
  in the group and its picture for the coordinator are at-least-once: a message claimed
  but never confirmed by Telegram (the bot was SIGKILLed between the claim and Telegram's
  answer) is sent again after the restart; when Telegram had delivered it just before the
  kill, that person (or the group) sees it twice, and the report names each such
  duplicate;
- broadcast copies are at-most-once: copies in flight at a kill or a dropped connection
  are recorded "unknown" and reported to the coordinator, never sent twice; the report
  names each missing one.
Under CPU load the "clock moved" kill lands inside a pass (the test is preempted between
writing the clock and the SIGKILL): that is how seed 8 once lost the meeting reminder of
5 January, claim-first; reminders and nudges are now sent again after such a kill, and the
newest at-least-once message delivered before such a kill may arrive twice (the outbox
sends one item at a time, so it is the only one that can be delivered and unrecorded).
Not exercised: a client-side time-out (the fake's slow answers take 0.3 s, under PTB's
5 s read timeout). A kill while an update is handled is: updates are confirmed to
Telegram only after they were handled, so Telegram delivers it again.

Not a promise, and so not a window: a half-done conversation (Bo's pause flow) lives in
memory, so a kill between two of its steps makes the new process say it lost track and
start again; Bo then starts again too, as often as kills and faults end his tries.

Under load: past WAIT, a step keeps waiting while the bot visibly works (an unconfirmed
update, a request in flight) up to WAIT_BUSY, so a slow restart is not mistaken for a lost
answer; a start may take up to 120 s. Earlier on 2026-12-04 (load average 8-11 from
colleagues' suites, no busy loops), after every feature's messages moved into the outbox:
SQLite seeds 1, 3 and 4 and PostgreSQL seeds 2, 3, 5 and 8 passed (2-4 minutes each).

Issue 12's check, to repeat: SQLite, one seed after another (never side by side), each
with two busy loops beside it, started before it and killed by their PIDs after it:

    python3 -c 'while True: pass' &  python3 -c 'while True: pass' &
    PEERBOT_MONTH_SEED=<n> python -m pytest -o addopts= -p no:xdist -s \
      "tests/test_simulated_month.py::test_a_month_under_faults_and_twenty_sigkills_keeps_every_promise_once[sqlite]"

Runs of 2026-12-04 (2 CPUs shared with four colleagues' work; load average at the start
and end of each run, the two loops included):
- seed 8, main cceb917: passed, 206 s, load 3.9-6.4; 4 duplicates, each named at a kill.
- seed 1, main 852f040: passed, 340 s, load 8.0-12.1; 4 duplicates named.
- seed 2, main 852f040: FAILED after 212 s, load 12.1-13.1, "Bo could not pause": five
  of its twenty kills fell on Bo's nine pause steps, and the script allowed four tries
  (fixed in fd86da5: he tries again while kills and faults end his tries).
- seed 3, main 852f040: passed, 314 s, load 13.1-13.8; 1 duplicate named.
- seed 5, main 852f040: passed, 404 s, load 13.8-15.2; 2 duplicates named.
- seed 8, main e58623c: FAILED after 59 s, load 15.1-14.7, "the bot did not start
  polling": the first start took over 30 s (10 s of it imports), and the process outlived
  the test. Fixed in 01385b9 (120 s; the first start inside try/finally).
- seed 2, main 01385b9: passed, 386 s, load 16.0-7.6; Bo started the pause again four
  times (each try ended by a kill) and paused on the fifth; 3 duplicates and 1 broadcast
  copy missing ("unknown", reported to the coordinator), each named.
- seed 8, main 01385b9: passed, 229 s, load 7.6-9.1; 3 duplicates named.
Nothing was missing in a passing run but what its report named.

Run another month with PEERBOT_MONTH_SEED=<n> (default 8); PEERBOT_MONTH_TRACE=1 prints
the steps as they go.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import cli
from bot.clock import FAKE_CLOCK_FILE_ENV, FileClock, SystemClock, clock_from_environment
from bot.fake_telegram import FakeTelegram
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, populate
from tests.month_script import (
    SENDING_METHODS,
    BotProcess,
    KillInSend,
    KillPlan,
    Promise,
    delivered,
    kind_of,
    until,
)
from tests.postgres import create_database

SEED = int(os.environ.get("PEERBOT_MONTH_SEED", "8"))
KILLS = 20
FAULT_RATE = 0.10
# Seconds for one step's promises (a send may need its three retries). Past WAIT the month
# still waits while the bot is visibly working (an update not yet confirmed, a request in
# flight, a call within the last second), up to WAIT_BUSY: under CPU load a restart and a
# pass take many times longer, and a person should not "repeat" what the bot is still doing.
WAIT = 12.0
WAIT_BUSY = 90.0


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    year = 2027 if month == 1 else 2026
    return datetime(year, month, day, hour, minute, tzinfo=COPENHAGEN)


def stamp(moment: datetime) -> str:
    return moment.strftime("%d/%m %H:%M")


class Month:
    """The script's state: the fake, the bot process, the promises made so far."""

    def __init__(self, fake: FakeTelegram, bot: BotProcess, plan: KillPlan, cast: Any) -> None:
        self.fake, self.bot, self.plan, self.cast = fake, bot, plan, cast
        self.killer = KillInSend(fake, bot)
        self.expected: Counter[Promise] = Counter()
        self.waiting: set[Promise] = set()  # promised since the last settle
        self.notes: list[str] = []  # what people had to do again, restarts...
        self.now = at(12, 14, 9)

    @property
    def chats(self) -> list[int]:
        c = self.cast
        return [GROUP_CHAT_ID, c.coordinator.id, *(v.id for v in c.volunteers)]

    def promise(self, chat_id: int, kind: str, count: int = 1) -> None:
        self.expected[(chat_id, kind)] += count
        self.waiting.add((chat_id, kind))

    def kept(self) -> bool:
        seen = delivered(self.fake, self.chats)
        return all(seen[p] >= self.expected[p] for p in self.waiting)

    async def restart_if_killed(self) -> None:
        process = self.bot.process
        assert process is not None
        if self.bot.lives[-1].killed_at_call is not None and process.returncode is None:
            await process.wait()
        if self.bot.lives[-1].killed_at_call is not None:
            await self.bot.reap_and_restart()

    async def settle(self, condition: Callable[[], bool] | None = None) -> bool:
        """Wait for the promises so far (and `condition`), restarting after an in-send
        kill; then for a quiet moment, so a duplicate would have shown up."""
        ok = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        busy_deadline = loop.time() + WAIT_BUSY
        while True:
            if self.killer.fired.is_set():
                self.killer.fired.clear()
                await self.restart_if_killed()
            await self.bot.ensure_running()
            done = self.kept() and (condition is None or condition())
            quiet = self.fake.is_idle(quiet=1.0)
            gave_up = loop.time() > deadline and (
                (quiet and not due_reminders(self.bot.database_url, self.now))
                or loop.time() > busy_deadline
            )
            if done or gave_up:
                ok = done
                break
            await until(
                lambda: (
                    self.killer.fired.is_set()
                    or (self.kept() and (condition is None or condition()))
                ),
                min(1.0, max(deadline - loop.time(), 0.2)),
                self.fake,
            )
        self.killer.disarm()
        self.waiting.clear()  # what is still missing is reported at the end
        await self.fake.wait_until_idle(timeout=30, quiet=0.3)
        if self.killer.fired.is_set():  # fired while we waited for quiet
            self.killer.fired.clear()
            await self.restart_if_killed()
            await self.fake.wait_until_idle(timeout=30, quiet=0.3)
        return ok

    # Kill points ------------------------------------------------------------------------

    async def kill_point_now(self, how: str) -> None:
        """A kill point where the kill (if chosen) happens at once, synchronously."""
        if self.plan.next_point():
            self.plan.log.append(f"{stamp(self.now)} {how}")
            trace(f"KILL {how}")
            newest = self.newest_promise_delivered()
            self.bot.kill_now(how)
            if newest is not None:
                self.killer.delivered_at_kill.append(newest)
            await self.bot.reap_and_restart()

    def newest_promise_delivered(self) -> tuple[int, int] | None:
        """(chat id, message id) of the newest at-least-once message the living bot had
        Telegram deliver. Under CPU load a kill at once lands inside a pass, maybe between
        Telegram's answer and the bot's record of it; the outbox sends one item at a time,
        so only this newest one can have been delivered and not recorded."""
        life = self.bot.lives[-1]
        for call in reversed(self.fake.calls[life.first_call :]):
            if call.method not in SENDING_METHODS or call.status != 200:
                continue
            result = call.response.get("result")
            if not isinstance(result, dict) or "message_id" not in result:
                continue
            chat_id = int(result.get("chat", {}).get("id", call.params.get("chat_id")))
            sent = next(
                (m for m in self.fake.messages_to(chat_id) if m.message_id == result["message_id"]),
                None,
            )
            if sent is not None and at_least_once_reason(kind_of(sent) or ""):
                return chat_id, sent.message_id
        return None

    def kill_point_in_send(self, sends: int) -> None:
        """A kill point inside Telegram at the n-th send of the step (n seeded)."""
        if self.plan.next_point():
            nth = self.plan.rng.randint(1, max(sends, 1))
            self.plan.log.append(f"{stamp(self.now)} in send {nth} of {sends}")
            self.killer.arm(nth)

    # People and time ----------------------------------------------------------------------

    async def act(
        self,
        what: str,
        do: Callable[[], object],
        done: Callable[[], bool],
        *,
        tries: int = 3,
    ) -> bool:
        """A person does something and waits for the bot's answer; like a person, they do
        it again when nothing happens (the answer was lost to a fault). With tries=1 the
        caller decides what to do next (False: no answer)."""
        for attempt in range(1, tries + 1):
            trace(f"{stamp(self.now)} {what}")
            do()
            await self.kill_point_now(f"queued: {what}")
            if await self.settle(done):
                return True
            self.notes.append(f"{stamp(self.now)} {what}: no answer ({attempt})")
        if tries == 1:
            return False
        raise AssertionError(f"{what}: the bot never answered")

    async def time_passes(self, moment: datetime, sends: int) -> None:
        """Move the clock (the bot's passes notice by themselves) and wait for the step's
        promises, `sends` of them new."""
        self.now = moment
        trace(f"{stamp(self.now)} clock, {sends} sends")
        self.bot.set_time(moment)
        await self.kill_point_now("clock moved")
        if sends:
            self.kill_point_in_send(sends)
        await self.settle()


_T0 = [0.0]


def trace(line: str) -> None:
    if os.environ.get("PEERBOT_MONTH_TRACE"):
        import time

        if not _T0[0]:
            _T0[0] = time.monotonic()
        print(f"{time.monotonic() - _T0[0]:7.2f} {line}", flush=True)


def last_with_button(fake: FakeTelegram, chat_id: int, prefix: str) -> Any:
    for message in reversed(fake.messages_to(chat_id)):
        if any((b.get("callback_data") or "").startswith(prefix) for b in message.buttons):
            return message
    return None


def button(message: Any, prefix: str, suffix: str = "") -> str:
    return next(
        b["callback_data"]
        for b in message.buttons
        if (b.get("callback_data") or "").startswith(prefix) and b["callback_data"].endswith(suffix)
    )


def newest_text(fake: FakeTelegram, chat_id: int, fragment: str, since: int) -> bool:
    return any(fragment in (m.text or "") for m in fake.messages_to(chat_id)[since:])


# Kill points of the script, counted once so 20 can be drawn among them.
def count_kill_points(timeline: list[tuple[datetime, int]], people_actions: int) -> int:
    return people_actions + len(timeline) + sum(1 for _, sends in timeline if sends)


def reminder_moments() -> dict[datetime, list[tuple[str, str]]]:
    """(volunteer, label) reminders due at each moment: the day before at 18:00 and two
    hours before, for K.L. (Tuesdays 10:00) and P.J. (Thursdays 15:00)."""
    due: dict[datetime, list[tuple[str, str]]] = {}
    for week in range(4):
        tuesday = at(12, 15, 10) + timedelta(days=7 * week)
        thursday = at(12, 17, 15) + timedelta(days=7 * week)
        for meeting, label, who in (
            (tuesday, "K.L.", ("anna", "camilla")),
            (thursday, "P.J.", ("dennis",)),
        ):
            day_before = datetime.combine(
                meeting.date() - timedelta(days=1), meeting.time().replace(hour=18)
            ).replace(tzinfo=COPENHAGEN)
            hours_before = meeting - timedelta(hours=2)
            for moment in (day_before, hours_before):
                due.setdefault(moment, []).extend((name, label) for name in who)
    return due


@pytest.fixture(params=["sqlite", "postgresql"])
async def month_database(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: str | None
) -> str:
    """The month runs on both databases (in parallel when pytest-xdist spreads the tests)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'month.sqlite3'}"
    if postgres_server is None:
        pytest.skip("PostgreSQL could not be started here (see the warning above)")
    return await create_database(postgres_server, f"month_{uuid.uuid4().hex[:10]}")


async def test_a_month_under_faults_and_twenty_sigkills_keeps_every_promise_once(
    tmp_path: Path, month_database: str
):
    started = asyncio.get_running_loop().time()
    clock = {"now": at(12, 14, 9)}
    async with FakeTelegram(hang_delay=0.3, now=lambda: clock["now"].timestamp()) as fake:
        cast = populate(fake)
        mette = cast.coordinator
        anna, bo, camilla, dennis = cast.volunteers
        who = {"anna": anna, "bo": bo, "camilla": camilla, "dennis": dennis}
        bot = BotProcess(fake, tmp_path, month_database, tmp_path / "clock", mette.id)
        bot.set_time(clock["now"])

        reminders = reminder_moments()
        # Other moments the month moves through, with the promises each brings.
        events = {
            at(12, 15, 10): "poll opens",
            at(12, 16, 11): "Bo pauses",
            at(12, 17, 12): "first broadcast",
            at(12, 19, 10): "nudge",
            at(12, 20, 10): "poll closes",
            at(12, 28, 12): "Bo comes back",
            at(1, 4, 10): "meeting reminder, the day before",
            at(1, 5, 15): "meeting reminder, two hours before",
            at(1, 5, 19, 30): "after the meeting",
            at(1, 6, 10): "minutes",
            at(1, 6, 12): "second broadcast",
            at(1, 7, 16): "the month ends",
        }
        moments = sorted(set(reminders) | set(events))
        sends_at = {m: len(reminders.get(m, [])) for m in moments}
        sends_at[at(12, 15, 10)] += 1  # the poll
        sends_at[at(12, 19, 10)] += 1  # Dennis's nudge
        sends_at[at(12, 20, 10)] += 2  # decision and the coordinator's picture
        sends_at[at(1, 4, 10)] += 4
        sends_at[at(1, 5, 15)] += 4
        timeline = [(m, sends_at[m]) for m in moments]
        # People's actions that are kill points (see `act` calls below).
        # At least this many (a broadcast may ask one more question, a person may repeat).
        people_actions = 5 + 2 + 3 + 4 + 1 + 3 + 3 + 3
        plan = KillPlan(SEED, KILLS, count_kill_points(timeline, people_actions))
        fake.set_fault_rate(FAULT_RATE, seed=SEED)
        month = Month(fake, bot, plan, cast)

        original_set_time = bot.set_time

        def set_time(moment: datetime) -> None:
            clock["now"] = moment
            original_set_time(moment)

        bot.set_time = set_time  # type: ignore[method-assign]

        try:
            await bot.start()  # inside: a start that fails still stops the process
            # Everyone opens the private chat.
            for person in (mette, anna, bo, camilla, dennis):
                month.promise(person.id, "welcome")
                await month.act(
                    f"{person.first_name} /start",
                    lambda p=person: fake.send_text(p, p.id, "/start"),
                    lambda p=person: any(kind_of(m) == "welcome" for m in fake.messages_to(p.id)),
                )
            # Two weekly matches.
            for command, label in (
                ('/match @anna @camilla "K.L." weekly tue 10:00', "K.L."),
                ('/match @dennis "P.J." weekly thu 15:00', "P.J."),
            ):
                before = len(fake.messages_to(mette.id))
                await month.act(
                    f"/match {label}",
                    lambda c=command: fake.send_text(mette, mette.id, c),
                    lambda b=before, lab=label: newest_text(fake, mette.id, lab, b),
                )

            for moment, sends in timeline:
                for name, label in reminders.get(moment, []):
                    month.promise(who[name].id, f"match reminder {label} {stamp(moment)}")
                event = events.get(moment)
                if event == "poll opens":
                    # Besides the random faults: the poll's first post always gets a 502, so
                    # the "not sure it arrived" path runs every month.
                    fake.fail_next("sendPoll", error_code=502, description="Bad Gateway")
                    month.promise(GROUP_CHAT_ID, "meeting poll")
                elif event == "nudge":
                    month.promise(dennis.id, "meeting nudge")
                elif event == "poll closes":
                    month.promise(GROUP_CHAT_ID, "meeting decision")
                    month.promise(mette.id, "meeting picture for the coordinator")
                elif event and event.startswith("meeting reminder"):
                    for person in (anna, bo, camilla, dennis):
                        month.promise(person.id, f"meeting reminder {stamp(moment)}")
                await month.time_passes(moment, sends)

                if event == "poll opens":
                    await reopen_an_uncertain_poll(month, mette)
                    poll = next(m for m in fake.messages_to(GROUP_CHAT_ID) if m.poll).poll
                    assert "januar" in poll["question"]
                    votes = ((anna, [0]), (bo, [0, 1]), (camilla, [0]))
                    for n, (person, options) in enumerate(votes, start=1):
                        # A vote has no answer to see: wait until it is stored (a SIGKILL
                        # while an update is handled loses it: PTB confirms at fetch).
                        await month.act(
                            f"{person.first_name} votes",
                            lambda p=person, o=options, i=poll["id"]: fake.answer_poll(p, i, o),
                            lambda n=n: stored_voters(bot.database_url) >= n,
                        )
                elif event == "Bo pauses":
                    await pause_flow(month, bo, mette)
                elif event == "Bo comes back":
                    month.promise(bo.id, "welcome back")
                    month.promise(mette.id, "return notice")
                    await month.act(
                        "Bo /resume",
                        lambda: fake.send_text(bo, bo.id, "/resume"),
                        lambda: newest_text(fake, bo.id, "Velkommen tilbage", 0),
                    )
                elif event == "first broadcast":
                    text = "Julehygge i lokalet torsdag kl. 17"
                    await broadcast_flow(month, mette, text, "both", important=False)
                    for chat in (GROUP_CHAT_ID, anna.id, camilla.id, dennis.id):
                        month.promise(chat, f"broadcast:{text}")
                    await month.settle()
                elif event == "second broadcast":
                    text = "Husk: supervision flyttes til fredag"
                    await broadcast_flow(month, mette, text, "volunteers", important=True)
                    for person in (anna, bo, camilla, dennis):
                        month.promise(person.id, f"broadcast:{text}")
                    await month.settle()
                elif event == "minutes":
                    await minutes_flow(month, mette)
                    month.promise(camilla.id, "minutes copy")
                    month.promise(dennis.id, "minutes copy")
                    await month.settle()
        finally:
            fake.clear_faults()
            await bot.stop()
            dump(fake, month.chats, tmp_path)

        seen = delivered(fake, month.chats)
        missing = {p: n - seen[p] for p, n in month.expected.items() if seen[p] < n}
        extra = {p: n - month.expected[p] for p, n in seen.items() if n > month.expected[p]}
        reasons, missing, extra = explain(month, missing, extra)
        faults = Counter(c.fault for c in fake.calls if c.fault)
        report = "\n".join(
            [
                f"seed {SEED}: {len(bot.lives)} lives, kills: {plan.log}",
                f"faults: {dict(faults)}; unexpected exits: {bot.unexpected_exits}",
                f"people repeated: {month.notes}",
                f"missing: {missing}",
                f"duplicated or unexpected: {extra}",
                f"deviations the documented windows account for: {reasons}",
                f"took {asyncio.get_running_loop().time() - started:.0f} s; each life's log, "
                f"messages.txt and calls.txt are in {tmp_path}",
            ]
        )
        print(report)
        assert len(plan.log) == KILLS, report
        assert sum(faults.values()) > 0, report
        assert not missing and not extra, report


def test_the_file_clock_is_a_test_hook_that_check_warns_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    path = tmp_path / "clock"
    FileClock.write(path, at(12, 14, 9))
    clock = FileClock(path)
    assert clock.now() == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
    FileClock.write(path, at(12, 15, 10))
    assert clock.now() == datetime(2026, 12, 15, 9, 0, tzinfo=UTC)
    monkeypatch.delenv(FAKE_CLOCK_FILE_ENV, raising=False)
    assert isinstance(clock_from_environment(), SystemClock)
    monkeypatch.setenv(FAKE_CLOCK_FILE_ENV, str(path))
    assert isinstance(clock_from_environment(), FileClock)
    monkeypatch.chdir(tmp_path)
    cli.main(["check"])
    assert f"Warning: {FAKE_CLOCK_FILE_ENV} is set; it is for tests only" in capsys.readouterr().out


def read_rows(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a read-only query on the bot's database, whichever it is; [] while locked."""
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            try:
                return db.execute(sql).fetchall()
            except sqlite3.OperationalError:  # locked for a moment
                return []

    async def from_postgres() -> list[tuple[Any, ...]]:
        import asyncpg

        connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    # The test's own loop is busy being Telegram: ask from a short-lived loop elsewhere.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, from_postgres()).result(timeout=30)


def due_reminders(database_url: str, now: datetime) -> int:
    """Reminders due by `now` that the bot has not dealt with yet (read-only). Under load
    its pass may not have run since the clock moved; moving the clock on then would make
    them too late by the script's doing, not the bot's."""
    rows = read_rows(
        database_url,
        "SELECT due_at FROM reminder_deliveries WHERE state IN ('pending', 'sending') "
        "UNION ALL SELECT due_at FROM outbox WHERE kind = 'meeting reminder' "
        "AND state IN ('pending', 'claimed')",
    )

    def utc(value: Any) -> datetime:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    return sum(1 for (due_at,) in rows if utc(due_at) <= now)


def stored_voters(database_url: str) -> int:
    """How many people's answers to the meeting poll the bot has stored (read-only)."""
    rows = read_rows(database_url, "SELECT COUNT(DISTINCT person_id) FROM meeting_answers")
    return rows[0][0] if rows else 0


def dump(fake: FakeTelegram, chats: list[int], tmp_path: Path) -> None:
    """Every delivered message and every call, for reading a failure (in tmp_path)."""
    with (tmp_path / "messages.txt").open("w") as out:
        for chat_id in chats:
            for m in fake.messages_to(chat_id):
                day = datetime.fromtimestamp(m["date"], COPENHAGEN).strftime("%d/%m %H:%M")
                text = (m.get("text") or m.get("caption") or "").replace("\n", " | ")
                out.write(f"{chat_id} {m.message_id} {day} {m.method} {kind_of(m)} {text[:90]}\n")
    with (tmp_path / "calls.txt").open("w") as out:
        for n, c in enumerate(fake.calls):
            if c.method != "getUpdates":
                out.write(f"{n} {c.time:.3f} {c.fault} {c}\n")


AT_LEAST_ONCE = {
    # Kinds (by prefix) whose copy a SIGKILL cut off between the claim and Telegram's answer
    # is sent again after the restart; Telegram may have delivered it just before the kill.
    "minutes copy": "minutes copies are sent again when their claim was left by a killed bot",
    "meeting reminder": "a meeting reminder (an outbox item) a kill left claimed is sent again",
    "match reminder": "a match reminder a kill left in flight is claimed again",
    "meeting nudge": "a poll nudge (an outbox item) a kill left claimed is sent again",
    "meeting decision": "the decision's group post (an outbox item, committed with the "
    "decision) a kill left claimed is posted again",
    "meeting picture for the coordinator": "the decision's picture for the coordinator "
    "(an outbox item, committed with the decision) a kill left claimed is sent again",
}


# The arrival time at the end of some kinds ("meeting reminder 04/01 18:00").
ARRIVAL_TIME = re.compile(r" \d\d/\d\d \d\d:\d\d$")


def at_least_once_reason(kind: str) -> str | None:
    return next((why for prefix, why in AT_LEAST_ONCE.items() if kind.startswith(prefix)), None)


def explain(
    month: Month, missing: dict[Promise, int], extra: dict[Promise, int]
) -> tuple[list[str], dict[Promise, int], dict[Promise, int]]:
    """The deviations the features' documented choices account for, precisely, and those
    they don't (which fail the test).

    - A duplicate of an at-least-once promise is accounted for only when the first copy is
      the very message Telegram had just delivered when the bot was SIGKILLed.
    - A missing broadcast copy is accounted for only when its row says "unknown": the copy
      was in flight when the bot died or its connection dropped, the coordinator's report
      says so, and it is never sent twice."""
    fake = month.fake
    reasons: list[str] = []
    left_extra: dict[Promise, int] = {}
    at_kill = set(month.killer.delivered_at_kill)
    used_kills: set[tuple[int, int]] = set()
    for (chat_id, kind), count in extra.items():
        why = at_least_once_reason(kind)
        copies = [m for m in fake.messages_to(chat_id) if kind_of(m) == kind]
        killed_on = [m for m in copies[:-1] if (chat_id, m.message_id) in at_kill]
        accounted = min(count, len(killed_on)) if why else 0
        for m in killed_on[:accounted]:
            used_kills.add((chat_id, m.message_id))
            reasons.append(
                f"{kind} to {chat_id} twice: SIGKILL right after Telegram delivered message "
                f"{m.message_id}, before the bot recorded it; {why}"
            )
        if count > accounted:
            left_extra[(chat_id, kind)] = count - accounted
    # A kind carrying its arrival time ("match reminder P.J. 16/12 18:00"): when the restart
    # came only after the script's clock had moved on (the step's promise was kept: Telegram
    # had delivered the copy, so the script went on), the copy sent again arrives with a
    # later time and counts under that time, beside any reminder promised then. A message
    # Telegram delivered right at a kill is always sent again (the bot never heard the
    # answer), so each such message, not yet used above, explains one later extra of the
    # same reminder to the same person.
    for (chat_id, kind), count in list(left_extra.items()):
        why = at_least_once_reason(kind)
        base = ARRIVAL_TIME.sub("", kind)
        if not why or base == kind:
            continue
        resends = [m for m in fake.messages_to(chat_id) if kind_of(m) == kind]
        for resend in resends[-count:]:
            first = next(
                (
                    m
                    for m in fake.messages_to(chat_id)
                    if (chat_id, m.message_id) in at_kill - used_kills
                    and m.message_id < resend.message_id
                    and (kind_of(m) or "") != kind
                    and ARRIVAL_TIME.sub("", kind_of(m) or "") == base
                    and month.expected[(chat_id, kind_of(m) or "")]
                ),
                None,
            )
            if first is None:
                break
            used_kills.add((chat_id, first.message_id))
            reasons.append(
                f"{kind} to {chat_id}: {kind_of(first)} (message {first.message_id}) sent "
                f"again after the restart, which came after the clock had moved on; Telegram "
                f"had delivered the first just before the SIGKILL; {why}"
            )
            left_extra[(chat_id, kind)] -= 1
        if not left_extra[(chat_id, kind)]:
            del left_extra[(chat_id, kind)]
    unknown = broadcast_unknown(month.bot.database_url)
    left_missing: dict[Promise, int] = {}
    for (chat_id, kind), count in missing.items():
        accounted = 0
        if kind.startswith("broadcast:") and unknown.get(chat_id, 0) > 0:
            accounted = min(count, unknown[chat_id])
            unknown[chat_id] -= accounted
            reasons.append(
                f"{kind} to {chat_id} missing: its copy was in flight when the bot was killed "
                "or its connection dropped; recorded as unknown, reported to the coordinator, "
                "never sent twice"
            )
        if count > accounted:
            left_missing[(chat_id, kind)] = count - accounted
    return reasons, left_missing, left_extra


def broadcast_unknown(database_url: str) -> dict[int, int]:
    """Broadcast copies whose fate is unknown, by recipient chat (the group for none)."""
    rows = read_rows(
        database_url,
        "SELECT p.telegram_user_id FROM outbox o LEFT JOIN people p ON p.id = o.person_id "
        "WHERE o.kind = 'broadcast' AND o.state = 'done' AND o.outcome = 'unknown'",
    )
    found: Counter[int] = Counter()
    for (telegram_id,) in rows:
        found[GROUP_CHAT_ID if telegram_id is None else telegram_id] += 1
    return dict(found)


async def reopen_an_uncertain_poll(month: Month, mette: Any) -> None:
    """The poll's post failed (a 5xx or a dropped connection): the meeting feature never
    risks two polls, so it tells the coordinator it is not sure. She looks in the group and,
    finding no poll, opens it with /meetingpoll (the same dates and closing time)."""
    fake = month.fake

    def polls() -> int:
        return sum(1 for m in fake.messages_to(GROUP_CHAT_ID) if m.poll)

    told = [m for m in fake.messages_to(mette.id) if kind_of(m) == "poll uncertain"]
    if polls() or not told:
        return
    month.promise(mette.id, "poll uncertain")
    month.notes.append(f"{stamp(month.now)} the poll was not posted; Mette opened it")
    await month.act(
        "Mette /meetingpoll",
        lambda: fake.send_text(mette, mette.id, "/meetingpoll"),
        lambda: polls() > 0,
    )


async def pause_flow(month: Month, bo: Any, mette: Any) -> None:
    """/pause, a month, no message, confirm. When a step's answer is lost to a fault, or a
    kill made the bot forget the half-done flow (it lives in memory: the new process says
    it lost track and starts again), Bo starts again with /pause, as a person would; as
    often as kills and faults end his tries, but a try that failed with neither fails."""
    fake = month.fake

    def new_buttons(prefix: str, since: int) -> Callable[[], bool]:
        return lambda: any(
            (b.get("callback_data") or "").startswith(prefix)
            for m in fake.messages_to(bo.id)[since:]
            for b in m.buttons
        )

    promised = False

    async def one_try() -> bool:
        nonlocal promised
        if newest_text(fake, bo.id, "Din pause er startet", 0):
            return True  # it did begin; only the answer was late
        before = len(fake.messages_to(bo.id))
        if not await month.act(
            "Bo /pause",
            lambda: fake.send_text(bo, bo.id, "/pause"),
            new_buttons("pause:len:", before),
            tries=1,
        ):
            return False
        steps = (("length", "pause:len:1m", "pause:note:"), ("note", "pause:note:none", "pause:ok"))
        for step, data, following in steps:
            message = last_with_button(fake, bo.id, data)
            since = len(fake.messages_to(bo.id))
            if message is None or not await month.act(
                f"Bo taps the pause {step}",
                lambda m=message, d=data: fake.tap_button(bo, m, d),
                lambda s=since, f=following: (
                    new_buttons(f, s)() or (last_with_button(fake, bo.id, f) is not None)
                ),
                tries=1,
            ):
                return False
        summary = last_with_button(fake, bo.id, "pause:ok")
        if summary is None:
            return False
        if not promised:
            month.promise(mette.id, "pause notice")
            promised = True
        return await month.act(
            "Bo confirms the pause",
            lambda m=summary: fake.tap_button(bo, m, "pause:ok"),
            lambda: newest_text(fake, bo.id, "Din pause er startet", 0),
            tries=1,
        )

    # Every step is a kill point, so with 20 kills a run of them can end several tries in a
    # row (seed 2 on 2026-12-04: five of Bo's nine steps, each tap fetched by a new process
    # that had forgotten the flow). Bounded by the kills, so it always ends.
    for attempt in range(1, KILLS + 5):
        kills, faults = len(month.plan.log), sum(1 for c in fake.calls if c.fault)
        if await one_try():
            return
        month.notes.append(f"{stamp(month.now)} Bo's pause flow: started again ({attempt})")
        if len(month.plan.log) == kills and sum(1 for c in fake.calls if c.fault) == faults:
            raise AssertionError(f"Bo could not pause: try {attempt} met no kill and no fault")
    raise AssertionError("Bo could not pause")


async def broadcast_flow(
    month: Month, mette: Any, text: str, audience: str, *, important: bool
) -> None:
    fake = month.fake
    before = len(fake.messages_to(mette.id))
    await month.act(
        "/broadcast",
        lambda: fake.send_text(mette, mette.id, f"/broadcast {text}"),
        lambda: (
            last_with_button(fake, mette.id, "broadcast:aud:") is not None
            and len(fake.messages_to(mette.id)) > before
        ),
    )
    control = last_with_button(fake, mette.id, "broadcast:aud:")
    await month.act(
        "broadcast audience",
        lambda: fake.tap_button(mette, control, button(control, "broadcast:aud:", audience)),
        lambda: any(
            b.get("callback_data", "").startswith(("broadcast:imp:", "broadcast:send:"))
            for b in control.buttons
        ),
    )
    if any(b.get("callback_data", "").startswith("broadcast:imp:") for b in control.buttons):
        await month.act(
            "broadcast importance",
            lambda: fake.tap_button(
                mette, control, button(control, "broadcast:imp:", f":{int(important)}")
            ),
            lambda: "Klar til at sende" in (control.text or ""),
        )
    await month.act(
        "broadcast send",
        lambda: fake.tap_button(mette, control, button(control, "broadcast:send:")),
        lambda: (
            not any(
                b.get("callback_data", "").startswith("broadcast:send:") for b in control.buttons
            )
        ),
    )


async def minutes_flow(month: Month, mette: Any) -> None:
    """The minutes' text with no command, one tap on Camilla (she said yes but couldn't
    come), Send. A text the bot lost (killed before its preview) is simply sent again, as
    a person would."""
    fake = month.fake
    for attempt in range(1, 5):
        before = len(fake.messages_to(mette.id))
        fake.send_text(mette, mette.id, "Referat: vi talte om foråret og om supervision.")
        await month.kill_point_now("queued: the minutes' text")
        if await month.settle(
            lambda b=before: any(
                b2["text"] == "Send" for m in fake.messages_to(mette.id)[b:] for b2 in m.buttons
            )
        ):
            break
        month.notes.append(f"{stamp(month.now)} the minutes' text: sent again ({attempt})")
    preview = next(
        m
        for m in reversed(fake.messages_to(mette.id))
        if any(b["text"] == "Send" for b in m.buttons)
    )
    untick = next(b["callback_data"] for b in preview.buttons if b["text"] == "✅ Camilla")
    await month.act(
        "Camilla couldn't come after all",
        lambda: fake.tap_button(mette, preview, untick),
        lambda: any(b["text"] == "⬜ Camilla" for b in preview.buttons),
    )
    send = next(b["callback_data"] for b in preview.buttons if b["text"] == "Send")
    await month.act(
        "minutes send",
        lambda: fake.tap_button(mette, preview, send),
        lambda: not any(b["text"] == "Send" for b in preview.buttons),
    )
