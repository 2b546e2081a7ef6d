"""A database from the version before match reminders moved to the outbox, with reminders
still to send (one cut off mid-send by a stop, others pending, one already sent), upgrades
and each reminder arrives exactly once."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from bot.clock import FakeClock
from bot.domain import matches, people
from bot.fake_telegram import FakeTelegram
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Sandbox, populate, sandbox_settings
from storage.db import Database
from storage.models import ReminderDelivery
from tests.e2e import reminders_to
from tests.upgrades import to_old_heads

BEFORE = datetime(2026, 11, 23, 9, 0, tzinfo=COPENHAGEN)  # a Monday
UPGRADED = datetime(2026, 11, 30, 18, 20, tzinfo=COPENHAGEN)  # the day before, 18:20
# The last revision before reminders moved to the outbox.
OLD_MATCHES = "0003b"


async def old_database(url: str) -> None:
    """A weekly match (Tuesday 10:00) for Anna and Bo, its reminders as the old code left
    them on the evening before: Anna's cut off mid-send, Bo's pending, last week's sent."""
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_old_heads, url, OLD_MATCHES)
    async with db.transaction() as session:
        group = await people.ensure_group(session, GROUP_CHAT_ID, BEFORE)
        mette = people.TelegramPerson(1001, "Mette", None, "da", is_coordinator=True)
        await people.record_member(session, group.id, mette, BEFORE)
        ids = {}
        for user_id, name in ((2001, "Anna"), (2002, "Bo"), (2003, "Camilla"), (2004, "Dennis")):
            who = people.TelegramPerson(user_id, name, None, "da")
            person = await people.record_member(session, group.id, who, BEFORE, started_bot=True)
            ids[name] = person.id
        await matches.create_match(
            session,
            group.id,
            kind="match",
            label="K.L.",
            volunteer_ids=[ids["Anna"], ids["Bo"]],
            plan=matches.Plan("weekly", weekday=1, at=time(10, 0)),
            place=None,
            now=BEFORE,
            tz=COPENHAGEN,
        )
        # The old code made no outbox items: only its own rows.
        await session.execute(sa.text("DELETE FROM outbox"))
        rows = await session.scalars(sa.select(ReminderDelivery))
        evening = datetime(2026, 11, 30, 18, 0, tzinfo=COPENHAGEN)
        for row in rows:
            if row.due_at < evening:  # last week's: sent by the old code
                row.state, row.outcome = "sent", "sent"
            elif row.due_at == evening and row.person_id == ids["Anna"]:
                row.state = "sending"  # claimed, then a stop before Telegram's answer
        await session.flush()
        states = await session.execute(
            sa.select(ReminderDelivery.state, sa.func.count()).group_by(ReminderDelivery.state)
        )
        assert dict(states.all())["sending"] == 1  # type: ignore[arg-type]
    await db.dispose()


async def test_an_upgrade_sends_each_pending_reminder_of_the_old_rows_exactly_once(
    database_url: str, tmp_path
):
    await old_database(database_url)
    clock = FakeClock(UPGRADED)
    async with FakeTelegram() as fake:
        cast = populate(fake)
        anna, bo, _camilla, _dennis = cast.volunteers
        for volunteer in cast.volunteers:
            volunteer.started = True
        settings = sandbox_settings(tmp_path / "unused.sqlite3", fake, database_url=database_url)
        box = Sandbox(fake, settings, clock)
        await box.start_bot()  # upgrades to heads; its first pass sends what was due
        try:
            assert len(reminders_to(box, anna.id)) == len(reminders_to(box, bo.id)) == 1
            assert "tirsdag 1. december" in reminders_to(box, anna.id)[0].text
            await box.restart_bot()
            await box.advance(timedelta(minutes=30))
            assert len(reminders_to(box, anna.id)) == len(reminders_to(box, bo.id)) == 1
            # Tuesday 8:00: the reminders two hours before, once each.
            await box.advance_to(datetime(2026, 12, 1, 8, 5, tzinfo=COPENHAGEN))
            await box.restart_bot()
            await box.advance(timedelta(minutes=10))
            assert len(reminders_to(box, anna.id)) == len(reminders_to(box, bo.id)) == 2
            assert fake.spec_violations == []
        finally:
            await box.stop_bot()
