"""PeerBot at scale: 10,000 volunteers, 5,000 matches and a year of meetings in SQLite.

Seeds a migrated SQLite file with the real models (bulk inserts): a group, a coordinator,
10,000 volunteers who started the bot, 5,000 weekly matches (2,500 with two volunteers,
2,500 with one; 2,500 volunteers wait for a match) with a year of past meetings (every
20th cancelled) and their reminders, twelve monthly volunteer meetings with poll answers,
attendance, minutes and copies, twelve broadcasts to everyone, and some pauses. Then:

1. one scheduling pass in-process (`Scheduler.run_due` of the real Application, against
   the fake Bot API): the first one plans eight weeks of meetings for every match and arms
   their reminders, plus the daily retention pass; then a usual one (nothing new);
2. `peerbot run` as a process on that database: time to its first getUpdates and memory;
3. response times of `/meetings` and `/mydata` (different volunteers with matches, queued
   -> the answer arrives) and of the coordinator's `/matches` (to its first message; the
   overview of 5,000 matches is long, how many messages it takes is printed too).

    python -m bench.scale [--volunteers 10000] [--matches 5000] [--samples 20]

`main(...)` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from bench.common import (
    Latencies,
    answered,
    bot_env,
    sent_to,
    start_process,
)
from bot.app import build_application
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.fake_telegram import FakeTelegram
from bot.sandbox import GROUP_CHAT_ID
from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    Group,
    Match,
    MatchOccurrence,
    MatchVolunteer,
    Pause,
    Person,
    ReminderDelivery,
)
from storage.models.broadcast import Broadcast
from storage.models.meeting import Meeting, MeetingAnswer, MeetingOption
from storage.models.minutes import Attendance, AttendanceCheck, Minutes
from storage.models.outbox import OutboxItem

TZ = ZoneInfo("Europe/Copenhagen")
COORDINATOR = 1001
FIRST_VOLUNTEER = 4_000_000
# Seconds between two volunteers' /meetings + /mydata (three messages back).
SAMPLE_EVERY = 0.15
CHUNK = 20_000  # rows a statement


def _chunks(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def local(day: date, at: clock_time) -> datetime:
    return datetime.combine(day, at, tzinfo=TZ).astimezone(UTC)


def month_back(today: date, months: int) -> date:
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


async def seed(db: Database, volunteers: int, matches: int, now: datetime) -> dict[str, int]:
    """Bulk-insert everything; ids are given, so rows can point at each other at once."""
    today = now.astimezone(TZ).date()
    long_ago = now - timedelta(days=400)
    counts: dict[str, int] = {}

    async def put(model: type, rows: list[dict[str, Any]]) -> None:
        for chunk in _chunks(rows):
            await session.execute(insert(model), chunk)
        counts[model.__tablename__] = counts.get(model.__tablename__, 0) + len(rows)

    async with db.transaction() as session:
        await put(Group, [{"id": 1, "chat_id": GROUP_CHAT_ID, "created_at": long_ago}])
        person = {
            "group_id": 1,
            "language": "da",
            "is_member": True,
            "started_bot": True,
            "blocked_bot": False,
            "joined_at": long_ago,
        }
        coordinator_row = {
            **person,
            "id": 1,
            "telegram_user_id": COORDINATOR,
            "first_name": "Mette",
            "is_coordinator": True,
        }
        volunteer_ids = list(range(2, volunteers + 2))
        await put(
            Person,
            [coordinator_row]
            + [
                {
                    **person,
                    "id": pid,
                    "telegram_user_id": FIRST_VOLUNTEER + pid,
                    "first_name": f"Frivillig{pid}",
                    "is_coordinator": False,
                }
                for pid in volunteer_ids
            ],
        )

        # Matches, their volunteers, a year of meetings and the reminders that went out.
        first_day = today - timedelta(days=364)
        match_rows, placement_rows, occurrence_rows, reminder_rows = [], [], [], []
        on_match: dict[int, list[int]] = {}
        for i in range(matches):
            match_id = i + 1
            weekday = i % 7
            start = first_day + timedelta(days=(weekday - first_day.weekday()) % 7)
            at = clock_time(9 + i % 11, 30 if i % 2 else 0)
            match_rows.append(
                {
                    "id": match_id,
                    "group_id": 1,
                    "kind": "match" if i % 25 else "activity",
                    "label": f"B{i}",
                    "rhythm": "weekly",
                    "weekday": weekday,
                    "local_time": at,
                    "start_date": start,
                    "planned_until": today - timedelta(days=1),
                    "created_at": local(start, clock_time(8)) - timedelta(days=3),
                }
            )
            people_on = [volunteer_ids[i % len(volunteer_ids)]]
            if i < matches // 2 and matches + i < len(volunteer_ids):
                people_on.append(volunteer_ids[matches + i])
            on_match[match_id] = people_on
            for pid in people_on:
                placement_rows.append(
                    {
                        "group_id": 1,
                        "match_id": match_id,
                        "person_id": pid,
                        "role": "regular",
                        "added_at": long_ago,
                    }
                )
            day = start
            while day < today:
                occurrence_id = len(occurrence_rows) + 1
                starts_at = local(day, at)
                cancelled = occurrence_id % 20 == 0
                occurrence_rows.append(
                    {
                        "id": occurrence_id,
                        "group_id": 1,
                        "match_id": match_id,
                        "scheduled_date": day,
                        "local_date": day,
                        "local_time": at,
                        "starts_at": starts_at,
                        "status": "cancelled" if cancelled else "planned",
                        "changed_at": starts_at - timedelta(days=2) if cancelled else None,
                        "changed_by": people_on[0] if cancelled else None,
                        "armed": True,
                    }
                )
                if not cancelled:
                    for pid in people_on:
                        for lead, due in (
                            ("day_before", local(day - timedelta(days=1), clock_time(18))),
                            ("hours_before", starts_at - timedelta(hours=2)),
                        ):
                            reminder_rows.append(
                                {
                                    "group_id": 1,
                                    "occurrence_id": occurrence_id,
                                    "person_id": pid,
                                    "lead": lead,
                                    "due_at": due,
                                    "state": "sent",
                                    "sent_at": due,
                                    "outcome": "sent",
                                }
                            )
                day += timedelta(days=7)
        await put(Match, match_rows)
        await put(MatchVolunteer, placement_rows)
        await put(MatchOccurrence, occurrence_rows)
        await put(ReminderDelivery, reminder_rows)
        del occurrence_rows, reminder_rows

        # Twelve monthly volunteer meetings (and December's, decided), with everything.
        meeting_rows, option_rows, answer_rows = [], [], []
        check_rows, attendance_rows, minutes_rows, copy_rows = [], [], [], []
        for back in range(-1, 12):
            month = month_back(today, back)
            starts_at = local(month.replace(day=10), clock_time(17))
            meeting_id = back + 2
            opened = local(month_back(month, 1).replace(day=15), clock_time(10))
            meeting_rows.append(
                {
                    "id": meeting_id,
                    "group_id": 1,
                    "schedule_key": f"{month.year:04d}-{month.month:02d}",
                    "status": "decided",
                    "poll_id": f"poll-{meeting_id}",
                    "poll_chat_id": GROUP_CHAT_ID,
                    "poll_message_id": meeting_id,
                    "opened_at": opened,
                    "closes_at": opened + timedelta(days=5),
                    "nudged_at": opened + timedelta(days=4),
                    "closed_at": opened + timedelta(days=5),
                    "starts_at": starts_at,
                    "place": "Frivilligcentret",
                    "sequence": 0,
                }
            )
            for position in range(4):
                option_rows.append(
                    {
                        "group_id": 1,
                        "meeting_id": meeting_id,
                        "position": position,
                        "starts_at": starts_at + timedelta(days=position) if position < 3 else None,
                    }
                )
            for n, pid in enumerate(volunteer_ids):
                if (n + back) % 10 < 6:
                    answer_rows.append(
                        {
                            "group_id": 1,
                            "meeting_id": meeting_id,
                            "person_id": pid,
                            "position": n % 3,
                            "answered_at": opened + timedelta(hours=n % 100),
                        }
                    )
            past = starts_at < now
            if not past:
                continue
            check_rows.append(
                {
                    "group_id": 1,
                    "meeting_id": meeting_id,
                    "claimed_at": starts_at + timedelta(hours=2),
                    "outcome": "sent",
                    "saved_at": starts_at + timedelta(hours=3),
                }
            )
            came = [pid for n, pid in enumerate(volunteer_ids) if (n + back) % 4 == 0]
            attendance_rows += [
                {"group_id": 1, "meeting_id": meeting_id, "person_id": pid, "present": True}
                for pid in came
            ]
            minutes_rows.append(
                {
                    "id": meeting_id,
                    "group_id": 1,
                    "meeting_id": meeting_id,
                    "status": "confirmed",
                    "text": "Referat: vi talte om sommerens aktiviteter. " * 20,
                    "author_id": coordinator_row["id"],
                    "created_at": starts_at + timedelta(days=1),
                    "confirmed_at": starts_at + timedelta(days=1),
                }
            )
            came_set = set(came)
            copy_rows += [
                {
                    "group_id": 1,
                    "kind": "minutes_copy",
                    "subject_id": meeting_id,
                    "person_id": pid,
                    "due_at": starts_at + timedelta(days=1),
                    "state": "done",
                    "attempts": 1,
                    "outcome": "sent",
                    "done_at": starts_at + timedelta(days=1),
                }
                for pid in volunteer_ids
                if pid not in came_set
            ]
        await put(Meeting, meeting_rows)
        await put(MeetingOption, option_rows)
        await put(MeetingAnswer, answer_rows)
        await put(AttendanceCheck, check_rows)
        await put(Attendance, attendance_rows)
        await put(Minutes, minutes_rows)
        await put(OutboxItem, copy_rows)  # the copies, as the outbox keeps them

        # A broadcast to everyone each month, and some pauses (ended and running).
        broadcast_rows, delivery_rows = [], []
        for back in range(12):
            sent_at = local(month_back(today, back).replace(day=3), clock_time(10))
            broadcast_rows.append(
                {
                    "id": back + 1,
                    "group_id": 1,
                    "author_id": 1,  # the coordinator's people row
                    "status": "done",
                    "audience": "volunteers",
                    "important": False,
                    "source_chat_id": COORDINATOR,
                    "source_message_id": back + 1,
                    "report_message_id": back + 2,
                    "paused_skipped": 0,
                    "created_at": sent_at,
                    "confirmed_at": sent_at,
                    "finished_at": sent_at + timedelta(minutes=6),
                }
            )
            delivery_rows += [
                {
                    "group_id": 1,
                    "kind": "broadcast",
                    "subject_id": back + 1,
                    "person_id": pid,
                    "due_at": sent_at,
                    "state": "done",
                    "attempts": 1,
                    "outcome": "sent",
                    "done_at": sent_at,
                }
                for pid in volunteer_ids
            ]
        await put(Broadcast, broadcast_rows)
        await put(OutboxItem, delivery_rows)  # each copy, as the outbox kept it
        pause_rows = []
        for n, pid in enumerate(volunteer_ids[::20]):
            began = now - timedelta(days=30 + n % 200)
            running = n % 5 == 0
            pause_rows.append(
                {
                    "group_id": 1,
                    "person_id": pid,
                    "started_at": began,
                    "until": began + timedelta(days=60) if running else began + timedelta(days=14),
                    "ended_at": None if running else began + timedelta(days=14),
                    "wants_cover": True,
                    "next_checkin_at": now + timedelta(days=3) if running else None,
                    "ask_at": None,
                }
            )
        await put(Pause, pause_rows)
    return counts


def settings_for(fake: FakeTelegram, database: Path) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_bot_token=fake.token,
        telegram_base_url=fake.base_url,
        database_url=f"sqlite+aiosqlite:///{database}",
        group_chat_id=GROUP_CHAT_ID,
        coordinator_ids=str(COORDINATOR),
    )


def populate(fake: FakeTelegram, volunteers: int) -> None:
    fake.add_group(GROUP_CHAT_ID, "Frivillige", supergroup=True)
    fake.set_bot_status(GROUP_CHAT_ID, "administrator")
    fake.add_user(COORDINATOR, "Mette").started = True
    fake.set_member(GROUP_CHAT_ID, COORDINATOR, "administrator")
    for pid in range(2, volunteers + 2):
        user = fake.add_user(FIRST_VOLUNTEER + pid, f"Frivillig{pid}")
        user.started = True
        fake.set_member(GROUP_CHAT_ID, user.id, "member")


async def scheduling_passes(
    fake: FakeTelegram, database: Path, clock: Clock
) -> tuple[float, float, int]:
    """Seconds of the first and of a usual `Scheduler.run_due` at `clock`'s time (the one
    the rows were seeded around), and messages they sent."""
    application = build_application(settings_for(fake, database), clock=clock)
    await application.initialize()
    try:
        assert application.post_init is not None
        await application.post_init(application)  # group, menus; the JobQueue is not started
        scheduler = application.bot_data["services"].scheduler
        since = len(fake.calls)
        began = time.perf_counter()
        await scheduler.run_due(application)
        first = time.perf_counter() - began
        began = time.perf_counter()
        await scheduler.run_due(application)
        usual = time.perf_counter() - began
        sent = sum(1 for c in fake.calls[since:] if c.method.startswith("send") and c.ok)
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
        await application.shutdown()
    return first, usual, sent


async def command(
    fake: FakeTelegram, user_id: int, text: str, method: str = "sendMessage"
) -> float:
    since = len(fake.calls)
    fake.send_text(user_id, user_id, text)
    queued = time.monotonic()
    call = await answered(fake, since, sent_to(user_id, method), timeout=120)
    return call.time - queued


async def run(volunteers: int = 10_000, matches: int = 5_000, samples: int = 20) -> dict:
    figures: dict[str, Any] = {"volunteers": volunteers, "matches": matches}
    # The bot is stopped while it still sends the long /matches overview; the fake's HTTP
    # server would print each connection that closes mid-request.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    # The real clock: the bot started as a process below reads it too.
    clock = SystemClock()
    now = clock.now()
    with tempfile.TemporaryDirectory(prefix="peerbot-scale-") as name:
        folder = Path(name)
        database = folder / "scale.sqlite3"
        db = Database(f"sqlite+aiosqlite:///{database}")
        await upgrade(db.engine)
        began = time.perf_counter()
        figures["rows"] = await seed(db, volunteers, matches, now)
        figures["seed_seconds"] = round(time.perf_counter() - began, 1)
        await db.dispose()
        figures["database_mb"] = round(database.stat().st_size / 2**20, 1)
        print(
            f"  seeded {sum(figures['rows'].values()):,} rows in {figures['seed_seconds']} s "
            f"({figures['database_mb']} MiB)",
            flush=True,
        )

        async with FakeTelegram() as fake:
            populate(fake, volunteers)
            first, usual, sent = await scheduling_passes(fake, database, clock)
        figures["first_pass_seconds"] = round(first, 2)
        figures["usual_pass_seconds"] = round(usual, 3)
        figures["pass_messages"] = sent
        print(
            f"  scheduling pass: first {first:.2f} s (plans 8 weeks, arms reminders, retention),"
            f" usual {usual * 1000:.0f} ms; {sent} messages sent",
            flush=True,
        )

        async with FakeTelegram() as fake:
            populate(fake, volunteers)
            env = bot_env(
                fake,
                DATABASE_URL=f"sqlite:///{database}",
                GROUP_CHAT_ID=str(GROUP_CHAT_ID),
                COORDINATOR_IDS=str(COORDINATOR),
            )
            bot = await start_process(
                fake, "PeerBot", ["-m", "bot", "run"], env, folder, folder / "scale.log"
            )
            try:
                figures["start_seconds"] = round(bot.started_after, 2)
                await fake.wait_until_idle(timeout=120, quiet=1.0)
                figures["rss_start_mb"] = round(bot.rss_mb(), 1)
                meetings, mydata = Latencies("/meetings"), Latencies("/mydata")
                for n in range(samples):
                    begun = time.monotonic()
                    volunteer = FIRST_VOLUNTEER + 2 + n * (matches // max(samples, 1))
                    meetings.seconds.append(await command(fake, volunteer, "/meetings"))
                    mydata.seconds.append(await command(fake, volunteer, "/mydata", "sendDocument"))
                    await fake.wait_until_idle(timeout=60, quiet=0.05)
                    # Three messages a person, at most 20 a second: back to back, the bot's
                    # answers hit Telegram's 30 a second overall, and the bot rightly waits.
                    await asyncio.sleep(max(0.0, SAMPLE_EVERY - (time.monotonic() - begun)))
                figures["meetings"] = meetings.as_dict()
                figures["mydata"] = mydata.as_dict()
                figures["matches_overview"] = await matches_overview(fake)
                figures["rss_end_mb"] = round(bot.rss_mb(), 1)
                figures["peak_rss_mb"] = round(bot.peak_rss_mb(), 1)
            finally:
                await bot.stop(timeout=5)
        print(
            f"  peerbot run: start {figures['start_seconds']:.2f} s, RSS "
            f"{figures['rss_start_mb']} -> {figures['rss_end_mb']} MiB (peak "
            f"{figures['peak_rss_mb']}); /meetings p50 {meetings.p50_ms:.0f} ms max "
            f"{max(meetings.seconds) * 1000:.0f} ms; /mydata p50 {mydata.p50_ms:.0f} ms max "
            f"{max(mydata.seconds) * 1000:.0f} ms; /matches first message "
            f"{figures['matches_overview']['first_ms']:.0f} ms (document: "
            f"{figures['matches_overview']['document_ms']} ms), "
            f"{figures['matches_overview']['messages']} messages in "
            f"{figures['matches_overview']['watched_seconds']:.0f} s (of about "
            f"{figures['matches_overview']['messages_needed']}); a volunteer's /meetings "
            f"meanwhile: {figures['matches_overview']['volunteer_meanwhile_ms']} ms",
            flush=True,
        )
    return figures


async def matches_overview(fake: FakeTelegram, watch: float = 8.0) -> dict[str, Any]:
    """The coordinator's `/matches`: time to the first message, how many follow in `watch`
    seconds (Telegram lets a bot send about one message a second in one chat), and whether
    a volunteer's `/meetings` sent meanwhile is answered within that time (updates are
    handled one at a time). A long overview comes as a summary and one document: the time
    to that document too."""
    since = len(fake.calls)
    queued_at = time.monotonic()
    first = await command(fake, COORDINATOR, "/matches")
    volunteer = FIRST_VOLUNTEER + 3
    asked = len(fake.calls)
    fake.send_text(volunteer, volunteer, "/meetings")
    queued = time.monotonic()
    try:
        answer = await answered(fake, asked, sent_to(volunteer), timeout=watch)
        meanwhile: float | None = answer.time - queued
    except TimeoutError:
        meanwhile = None
    await asyncio.sleep(max(0.0, watch - (time.monotonic() - queued)))
    sends = [
        c
        for c in fake.calls[since:]
        if c.method in ("sendMessage", "sendDocument") and c.ok and c.chat_id == COORDINATOR
    ]
    chunks = [c for c in sends if c.method == "sendMessage"]
    documents = [c for c in sends if c.method == "sendDocument"]
    first_text = chunks[0].result.get("text", "") if chunks else ""
    listed = first_text.count("\n• ")
    # The title says how many: "Matches and activities (5000):" / "Match og aktiviteter (5000):"
    running = int(m.group(1)) if (m := re.search(r"\((\d+)\)", first_text[:80])) else 0
    needed = math.ceil(running / listed) if listed else len(chunks)
    if documents:  # a summary and the whole overview as a document: that is all it takes
        needed = len(sends)
    return {
        "first_ms": round(first * 1000, 1),
        "messages": len(sends),
        "documents": len(documents),
        "document_ms": round((documents[0].time - queued_at) * 1000, 1) if documents else None,
        "watched_seconds": watch,
        "matches_in_first_message": listed,
        "messages_needed": needed,
        "volunteer_meanwhile_ms": None if meanwhile is None else round(meanwhile * 1000, 1),
    }


def main(volunteers: int = 10_000, matches: int = 5_000, samples: int = 20) -> dict[str, Any]:
    return asyncio.run(run(volunteers, matches, samples))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=10_000)
    parser.add_argument("--matches", type=int, default=5_000)
    parser.add_argument("--samples", type=int, default=20)
    arguments = parser.parse_args()
    main(arguments.volunteers, arguments.matches, arguments.samples)
