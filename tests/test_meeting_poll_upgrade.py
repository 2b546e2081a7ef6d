"""Migrate, don't lose: a database from the version before the date poll's post and the
closing of the coordinator's other polls moved to the outbox, stopped while posting the
poll (its meeting still "opening") and with another poll open, upgrades: the poll is never
posted a second time, the coordinator is told once to look, the month's poll is not
opened again by the scheduler, and the other poll is closed once, when its time comes."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.clock import FakeClock
from bot.fake_telegram import FakeTelegram
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, populate, sandbox_settings
from bot.sandbox import Sandbox as Box
from storage.base import UTCDateTime
from storage.db import Database
from tests.test_meeting_outbox_upgrade import GROUPS, MEETINGS, OPTIONS, PEOPLE
from tests.upgrades import to_old_heads

OLD_MEETING = "0009c"  # the last meeting revision before the poll's post moved to the outbox
OPENED = datetime(2026, 12, 15, 10, 0, tzinfo=COPENHAGEN)  # the configured poll opening
UNSURE = "ikke sikker på, at afstemningen"
GROUP_POLLS = sa.table(
    "group_polls",
    *(sa.column(c) for c in ("group_id", "poll_id", "chat_id", "message_id", "question")),
    sa.column("anonymous"),
    *(sa.column(c, UTCDateTime) for c in ("opened_at", "closes_at", "closed_at")),
)
CLOSES = OPENED + timedelta(days=2)  # the coordinator's other poll


def write_old_rows(connection: sa.Connection) -> None:
    """The January poll claimed ("opening", its month's key) and cut off mid-send; the
    coordinator's own poll (message 77) open until two days later."""
    connection.execute(
        sa.insert(GROUPS), [{"id": 1, "chat_id": GROUP_CHAT_ID, "created_at": OPENED}]
    )
    connection.execute(
        sa.insert(PEOPLE),
        [
            {
                "id": 1,
                "group_id": 1,
                "telegram_user_id": 1001,
                "first_name": "Mette",
                "language": "da",
                "is_member": True,
                "is_coordinator": True,
                "started_bot": True,
                "blocked_bot": False,
                "joined_at": OPENED - timedelta(days=30),
            }
        ],
    )
    connection.execute(
        sa.insert(MEETINGS),
        [
            {
                "group_id": 1,
                "status": "opening",
                "poll_id": None,
                "poll_chat_id": None,
                "poll_message_id": None,
                "place": "Frivilligcentret",
                "sequence": 0,
                "opened_at": OPENED,
                "closes_at": OPENED + timedelta(days=5),
                "closed_at": None,
                "starts_at": None,
                "nudged_at": None,
            }
        ],
    )
    # (No id given: PostgreSQL's sequence must still give the next meeting a new one.)
    meeting_id = connection.scalar(sa.text("SELECT id FROM meetings"))
    connection.execute(
        sa.text(f"UPDATE meetings SET schedule_key = '2027-01' WHERE id = {meeting_id}")
    )
    first = datetime(2027, 1, 5, 17, 0, tzinfo=COPENHAGEN)
    connection.execute(
        sa.insert(OPTIONS),
        [
            {"group_id": 1, "meeting_id": meeting_id, "position": 0, "starts_at": first},
            {"group_id": 1, "meeting_id": meeting_id, "position": 1, "starts_at": None},
        ],
    )
    connection.execute(
        sa.insert(GROUP_POLLS),
        [
            {
                "group_id": 1,
                "poll_id": "p77",
                "chat_id": GROUP_CHAT_ID,
                "message_id": 77,
                "question": "Pizza eller sandwich?",
                "anonymous": False,
                "opened_at": OPENED - timedelta(days=1),
                "closes_at": CLOSES,
                "closed_at": None,
            }
        ],
    )


async def test_a_poll_post_cut_off_by_a_stop_is_never_posted_again_and_the_coordinator_looks(
    database_url: str, tmp_path
):
    db = Database(database_url)
    url = db.engine.url.render_as_string(hide_password=False)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_old_heads, url, OLD_MEETING)
    async with db.engine.begin() as connection:
        await connection.run_sync(write_old_rows)
    await db.dispose()

    async with FakeTelegram() as fake:
        cast = populate(fake)
        mette = cast.coordinator
        mette.started = True
        settings = sandbox_settings(tmp_path / "unused.sqlite3", fake, database_url=database_url)
        box = Box(fake, settings, FakeClock(OPENED + timedelta(minutes=20)))

        def polls() -> int:
            return sum(1 for m in fake.messages_to(GROUP_CHAT_ID) if m.poll)

        def told() -> int:
            return sum(UNSURE in t for t in box.texts_to(mette.id))

        await box.start_bot()  # upgrades to heads; its first pass finds the claim left
        try:
            assert (polls(), told()) == (0, 1)
            await box.restart_bot()
            await box.advance(timedelta(hours=1))
            assert (polls(), told()) == (0, 1)
            # She looks, finds no poll, and opens it: it is posted once and counts answers.
            await box.say(mette, "/meetingpoll")
            assert polls() == 1
            assert "Afstemningen er lagt i gruppen" in box.last_text_to(mette.id)

            # The other poll is stopped once, when it closes (also across a restart).
            def stopped() -> list[int]:
                return [int(c.params["message_id"]) for c in fake.calls_to("stopPoll")]

            await box.advance_to(CLOSES - timedelta(minutes=1))
            assert stopped() == []
            await box.advance_to(CLOSES)
            await box.restart_bot()
            await box.advance(timedelta(hours=1))
            assert stopped() == [77]
            assert fake.spec_violations == []
        finally:
            await box.stop_bot()
