"""How the match reminders scale: 5,000 weekly matches in a fresh SQLite database.

Prints the time of the first scheduling pass (plan 8 weeks of meetings and arm every
reminder, as at start), the memory used, and the time of further passes (a usual one
30 seconds later, and the daily one that plans one more week).

    python bench/matches_scale.py [--matches 5000]

A script, not a test: it writes a temporary database and prints numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time as timer
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select

from bot.domain import matches, outbox
from bot.domain.schedule import WEEKLY
from storage.db import Database
from storage.migrate import upgrade
from storage.models import (
    Group,
    Match,
    MatchOccurrence,
    MatchVolunteer,
    Person,
    ReminderDelivery,
)

TZ = ZoneInfo("Europe/Copenhagen")
GRACE = timedelta(minutes=120)


def max_rss_mb() -> float:
    # Linux reports kilobytes, macOS bytes.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 1024 / 1024 if sys.platform == "darwin" else rss / 1024


async def seed(db: Database, count: int, now: datetime) -> int:
    """One volunteer per match, weekly on every weekday between 09:00 and 20:00."""
    async with db.transaction() as session:
        group = Group(chat_id=-1, created_at=now)
        session.add(group)
        await session.flush()
        await session.execute(
            insert(Person),
            [
                {
                    "group_id": group.id,
                    "telegram_user_id": 10_000 + i,
                    "first_name": f"V{i}",
                    "language": "da",
                    "is_member": True,
                    "started_bot": True,
                    "blocked_bot": False,
                    "joined_at": now,
                }
                for i in range(count)
            ],
        )
        person_ids = list(await session.scalars(select(Person.id).order_by(Person.id)))
        await session.execute(
            insert(Match),
            [
                {
                    "group_id": group.id,
                    "kind": "match",
                    "label": f"M{i}",
                    "rhythm": WEEKLY,
                    "weekday": i % 7,
                    "local_time": time(9 + i % 12, 0),
                    "start_date": now.astimezone(TZ).date(),
                    "created_at": now,
                }
                for i in range(count)
            ],
        )
        match_ids = list(await session.scalars(select(Match.id).order_by(Match.id)))
        await session.execute(
            insert(MatchVolunteer),
            [
                {
                    "group_id": group.id,
                    "match_id": match_id,
                    "person_id": person_id,
                    "role": "regular",
                    "added_at": now,
                }
                for match_id, person_id in zip(match_ids, person_ids, strict=True)
            ],
        )
        return group.id


async def scheduling_pass(db: Database, group_id: int, now: datetime) -> tuple[int, int, int]:
    """What `handlers.matches.run_due` does, without Telegram: plan, arm (each reminder
    promised in the outbox), and claim what's due from the outbox, asking whether it is
    still wanted, as the sender does."""
    async with db.transaction() as session:
        planned = await matches.plan_occurrences(session, group_id, now, TZ)
        armed = await matches.arm_reminders(session, group_id, now, TZ)
    claimed = 0
    kinds = frozenset({matches.REMINDER_KIND})
    while True:  # one transaction per item, as the sender claims them
        async with db.transaction() as session:
            claim = await outbox.claim_next(session, group_id, now, "bench", kinds)
            if claim is None:
                break
            wanted = await matches.due_reminder(
                session, group_id, claim.subject_id, claim.person_id, now, GRACE
            )
            claimed += wanted is not None
            # Telegram's answer, recorded as the sender does (no Telegram here).
            await outbox.record(session, claim.item_id, "sent", now)
            if wanted is not None:
                await matches.record_reminder_outcome(session, claim.subject_id, "sent")
    return planned, armed, claimed


async def count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def main(count_matches: int) -> None:
    now = datetime(2026, 11, 30, 9, 0, tzinfo=TZ).astimezone(UTC)
    with tempfile.TemporaryDirectory(prefix="peerbot-bench-") as folder:
        db = Database(f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}")
        await upgrade(db.engine)
        started = timer.perf_counter()
        group_id = await seed(db, count_matches, now)
        print(f"seeded {count_matches} weekly matches in {timer.perf_counter() - started:.2f} s")

        started = timer.perf_counter()
        planned, armed, claimed = await scheduling_pass(db, group_id, now)
        first = timer.perf_counter() - started
        print(
            f"first pass (start): planned {planned} meetings, armed {armed} reminders, "
            f"{claimed} due now: {first:.2f} s"
        )
        print(
            f"  rows: {await count(db, MatchOccurrence)} meetings, "
            f"{await count(db, ReminderDelivery)} reminders"
        )
        print(f"memory used (max RSS): {max_rss_mb():.0f} MB")

        started = timer.perf_counter()
        planned, armed, claimed = await scheduling_pass(db, group_id, now + timedelta(seconds=30))
        usual = timer.perf_counter() - started
        print(
            f"next pass (30 s later): planned {planned}, armed {armed}, sent {claimed}: "
            f"{usual * 1000:.0f} ms"
        )

        evening = datetime(2026, 11, 30, 18, 0, tzinfo=TZ).astimezone(UTC)
        started = timer.perf_counter()
        planned, armed, claimed = await scheduling_pass(db, group_id, evening)
        busy = timer.perf_counter() - started
        print(
            f"pass at 18:00 (day-before reminders due): planned {planned}, armed {armed}, "
            f"claimed {claimed}: {busy * 1000:.0f} ms"
        )

        started = timer.perf_counter()
        planned, armed, claimed = await scheduling_pass(db, group_id, now + timedelta(days=1))
        daily = timer.perf_counter() - started
        print(
            f"first pass of the next day (one more day planned): planned {planned}, "
            f"armed {armed}, claimed {claimed}: {daily * 1000:.0f} ms"
        )
        print(f"memory used at the end (max RSS): {max_rss_mb():.0f} MB")
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matches", type=int, default=5000)
    asyncio.run(main(parser.parse_args().matches))
