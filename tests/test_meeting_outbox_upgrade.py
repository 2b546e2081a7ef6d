"""Migrate, don't lose: a database written by the meeting feature before the outbox (its
own `meeting_reminders` rounds with their cursor, `meeting_nudges` per volunteer), with a
reminder round and a nudge round both cut off mid-send by a stop, upgraded by the bot's
start (`upgrade heads`): every reminder and nudge still owed arrives exactly once, the one
each stop left in flight is sent again, and nothing Telegram had answered is repeated."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.clock import FakeClock
from bot.fake_telegram import FakeTelegram
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Sandbox, populate, sandbox_settings
from storage.base import UTCDateTime
from storage.db import Database
from tests.upgrades import to_old_heads

REMINDER = ("En lille påmindelse: frivilligmødet", "A little reminder: the volunteer meeting")
NUDGE = ("lukker i morgen", "closes tomorrow")
MEETING_BRANCH_ROOT = "0009"  # the last meeting revision before the outbox


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=COPENHAGEN)


def table(name: str, *columns: str, times: tuple[str, ...] = ()) -> sa.TableClause:
    """A table as the old code wrote it (Core, so later model changes don't matter)."""
    return sa.table(
        name,
        *(sa.column(c) for c in columns),
        *(sa.column(t, UTCDateTime) for t in times),
    )


GROUPS = table("groups", "id", "chat_id", times=("created_at",))
PEOPLE = table(
    "people",
    "id",
    "group_id",
    "telegram_user_id",
    "first_name",
    "language",
    "is_member",
    "is_coordinator",
    "started_bot",
    "blocked_bot",
    times=("joined_at",),
)
MEETINGS = table(
    "meetings",
    "id",
    "group_id",
    "status",
    "poll_id",
    "poll_chat_id",
    "poll_message_id",
    "place",
    "sequence",
    times=("opened_at", "closes_at", "closed_at", "starts_at", "nudged_at"),
)
OPTIONS = table("meeting_options", "group_id", "meeting_id", "position", times=("starts_at",))
ANSWERS = table(
    "meeting_answers", "group_id", "meeting_id", "person_id", "position", times=("answered_at",)
)
REMINDERS = table(
    "meeting_reminders", "group_id", "meeting_id", "lead", "outcome", times=("due_at", "done_at")
)
NUDGES = table(
    "meeting_nudges", "group_id", "meeting_id", "person_id", "outcome", times=("claimed_at",)
)


def write_old_rows(connection: Connection, now: datetime) -> None:
    """What the old code left when it was stopped: the December meeting (9 December 17:00,
    Anna said yes) has its day-before round cut off after Anna's reminder, with Bo's in
    flight ("to:<Bo>"), and its two-hours round not started; the January poll (closing 9
    December 10:30, Camilla answered) has its nudge round cut off with Anna nudged and Bo's
    nudge in flight."""
    connection.execute(sa.insert(GROUPS), [{"id": 1, "chat_id": GROUP_CHAT_ID, "created_at": now}])
    names = [(1001, "Mette"), (2001, "Anna"), (2002, "Bo"), (2003, "Camilla"), (2004, "Dennis")]
    connection.execute(
        sa.insert(PEOPLE),
        [
            {
                "id": number,
                "group_id": 1,
                "telegram_user_id": user_id,
                "first_name": name,
                "language": "da",
                "is_member": True,
                "is_coordinator": user_id == 1001,
                "started_bot": True,
                "blocked_bot": False,
                "joined_at": now - timedelta(days=30),
            }
            for number, (user_id, name) in enumerate(names, 1)
        ],
    )
    anna, bo, camilla = 2, 3, 4
    opened = now - timedelta(days=20)
    meeting = {
        "group_id": 1,
        "poll_chat_id": GROUP_CHAT_ID,
        "place": "Frivilligcentret",
        "sequence": 0,
        "opened_at": opened,
        "closed_at": None,
        "starts_at": None,
        "nudged_at": None,
    }
    connection.execute(
        sa.insert(MEETINGS),
        [
            meeting
            | {
                "id": 1,
                "status": "decided",
                "poll_id": "p1",
                "poll_message_id": 11,
                "closes_at": opened + timedelta(days=5),
                "closed_at": opened + timedelta(days=5),
                "nudged_at": opened + timedelta(days=4),
                "starts_at": at(9, 17),
            },
            meeting
            | {
                "id": 2,
                "status": "open",
                "poll_id": "p2",
                "poll_message_id": 12,
                "opened_at": now - timedelta(days=4),
                "closes_at": at(9, 10, 30),
            },
        ],
    )
    connection.execute(
        sa.insert(OPTIONS),
        [
            {"group_id": 1, "meeting_id": 1, "position": 0, "starts_at": at(9, 17)},
            {"group_id": 1, "meeting_id": 1, "position": 1, "starts_at": None},
            {
                "group_id": 1,
                "meeting_id": 2,
                "position": 0,
                "starts_at": at(12, 17) + timedelta(days=30),
            },
            {"group_id": 1, "meeting_id": 2, "position": 1, "starts_at": None},
        ],
    )
    connection.execute(
        sa.insert(ANSWERS),
        [
            {
                "group_id": 1,
                "meeting_id": 1,
                "person_id": anna,
                "position": 0,
                "answered_at": opened,
            },
            {
                "group_id": 1,
                "meeting_id": 2,
                "person_id": camilla,
                "position": 0,
                "answered_at": now,
            },
        ],
    )
    connection.execute(
        sa.insert(REMINDERS),
        [
            {
                "group_id": 1,
                "meeting_id": 1,
                "lead": "1d@10:00",
                "due_at": at(8, 10),
                "done_at": None,
                "outcome": f"to:{bo}",
            },
            {
                "group_id": 1,
                "meeting_id": 1,
                "lead": "2h",
                "due_at": at(9, 15),
                "done_at": None,
                "outcome": None,
            },
        ],
    )
    connection.execute(
        sa.insert(NUDGES),
        [
            {
                "group_id": 1,
                "meeting_id": 2,
                "person_id": anna,
                "claimed_at": at(8, 10, 30),
                "outcome": "sent",
            },
            {
                "group_id": 1,
                "meeting_id": 2,
                "person_id": bo,
                "claimed_at": at(8, 10, 30),
                "outcome": None,
            },
        ],
    )


def count(box: Sandbox, user_id: int, fragments: tuple[str, ...]) -> int:
    return sum(
        any(f in (m.get("text") or "") for f in fragments) for m in box.fake.messages_to(user_id)
    )


async def test_pending_reminders_and_nudges_of_the_old_tables_arrive_exactly_once(
    database_url: str, tmp_path
):
    now = at(8, 10, 35)
    db = Database(database_url)
    url = db.engine.url.render_as_string(hide_password=False)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_old_heads, url, MEETING_BRANCH_ROOT)
    async with db.engine.begin() as connection:
        await connection.run_sync(write_old_rows, now)
    await db.dispose()

    people = {"Anna": 2001, "Bo": 2002, "Camilla": 2003, "Dennis": 2004}
    async with FakeTelegram() as fake:
        cast = populate(fake)
        for user in [cast.coordinator, *cast.volunteers]:
            user.started = True
        settings = sandbox_settings(tmp_path / "unused.sqlite3", fake, database_url=database_url)
        box = Sandbox(fake, settings, FakeClock(now))
        # The start upgrades the database and its first pass catches up: the rest of the
        # day-before round from Bo on (his was in flight), and the nudges from Bo on.
        await box.start_bot()
        try:
            await after_the_upgrade(box, people)
        finally:
            await box.stop_bot()


async def after_the_upgrade(box: Sandbox, people: dict[str, int]) -> None:
    def reminded() -> list[int]:
        return [count(box, uid, REMINDER) for uid in people.values()]

    def nudged() -> list[int]:
        return [count(box, uid, NUDGE) for uid in people.values()]

    assert reminded() == [0, 1, 1, 1]
    assert nudged() == [0, 1, 0, 1]  # Anna was nudged before, Camilla answered
    await box.restart_bot()
    await box.advance_to(at(9, 9, 0))
    assert reminded() == [0, 1, 1, 1] and nudged() == [0, 1, 0, 1]
    # The two-hours round had not started: everyone who can come, once.
    await box.advance_to(at(9, 15, 1))
    await box.restart_bot()
    await box.advance_to(at(9, 15, 30))
    assert reminded() == [1, 2, 2, 2]
    assert nudged() == [0, 1, 0, 1]
