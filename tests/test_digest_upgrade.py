"""A database from the version before the weekly digest moved to the outbox (its own
`match_digests` row per group), stopped across the digest's slot, upgrades: the digest
that was due arrives once at the start, and the next one a week later, once."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from bot.clock import FakeClock
from bot.domain import people
from bot.fake_telegram import FakeTelegram
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Sandbox, populate, sandbox_settings
from storage.base import UTCDateTime
from storage.db import Database
from tests.upgrades import to_old_heads

JOINED = datetime(2026, 11, 2, 9, 0, tzinfo=COPENHAGEN)
SLOT = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)  # a Monday, 09:00: the digest's slot
UPGRADED = SLOT + timedelta(hours=2)  # the bot was stopped across it
OLD_MATCHES = "0003d"  # the last matches revision before the digest moved to the outbox
DIGESTS = sa.table("match_digests", sa.column("group_id"), sa.column("next_due_at", UTCDateTime))


async def old_database(url: str) -> None:
    """Bo has waited four weeks without a match; the old code's digest row says the next
    digest is due this Monday at 09:00, which the stopped bot never saw."""
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_old_heads, url, OLD_MATCHES)
    async with db.transaction() as session:
        group = await people.ensure_group(session, GROUP_CHAT_ID, JOINED)
        mette = people.TelegramPerson(1001, "Mette", None, "da", is_coordinator=True)
        await people.record_member(session, group.id, mette, JOINED, started_bot=True)
        bo = people.TelegramPerson(2002, "Bo", None, "da")
        await people.record_member(session, group.id, bo, JOINED, started_bot=True)
        await session.execute(sa.insert(DIGESTS).values(group_id=group.id, next_due_at=SLOT))
    await db.dispose()


async def test_a_digest_due_while_the_old_version_was_stopped_arrives_once(
    database_url: str, tmp_path
):
    await old_database(database_url)
    async with FakeTelegram() as fake:
        cast = populate(fake)
        mette = cast.coordinator
        mette.started = True
        settings = sandbox_settings(
            tmp_path / "unused.sqlite3", fake, database_url=database_url, unmatched_weeks=2
        )
        box = Sandbox(fake, settings, FakeClock(UPGRADED))

        def digests() -> list[str]:
            return [t for t in box.texts_to(mette.id) if "ugentlige overblik" in t]

        await box.start_bot()  # upgrades to heads; its first pass sends what was due
        try:
            assert len(digests()) == 1
            assert "Bo, uden match siden" in digests()[0]
            await box.restart_bot()
            await box.advance(timedelta(hours=1))
            assert len(digests()) == 1
            await box.advance_to(SLOT + timedelta(days=7) - timedelta(minutes=1))
            assert len(digests()) == 1
            await box.advance_to(SLOT + timedelta(days=7))
            assert len(digests()) == 2
            assert fake.spec_violations == []
        finally:
            await box.stop_bot()
