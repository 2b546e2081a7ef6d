"""The database: migrations equal the models, pragmas, UTC round trips, one transaction."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text

import storage.models  # noqa: F401
from bot.domain import people
from storage.base import Base
from storage.db import Database
from storage.models import Person


async def test_migrations_build_exactly_the_models(database: Database):
    def diff(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_every_connection_has_wal_and_foreign_keys(database: Database):
    if not database.url.startswith("sqlite"):
        pytest.skip("SQLite pragmas")
    async with database.transaction() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_times_come_back_aware_and_in_utc(database: Database):
    moment = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Copenhagen"))
    async with database.transaction() as session:
        group = await people.ensure_group(session, -1, moment)
    async with database.transaction() as session:
        again = await people.ensure_group(session, -1, moment)
        assert again.id == group.id
        assert again.created_at == moment and again.created_at.tzinfo == UTC


async def test_a_failed_transaction_leaves_nothing_behind(database: Database):
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            group = await people.ensure_group(session, -1, now)
            who = people.TelegramPerson(5, "Anna", None, "da")
            await people.record_member(session, group.id, who, now, started_bot=True)
            raise RuntimeError("boom")
    async with database.transaction() as session:
        assert list(await session.scalars(select(Person))) == []


async def test_foreign_keys_are_enforced(database: Database):
    from sqlalchemy.exc import IntegrityError

    now = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(IntegrityError):
        async with database.transaction() as session:
            session.add(
                Person(
                    group_id=999,
                    telegram_user_id=1,
                    first_name="X",
                    language="da",
                    is_member=True,
                    started_bot=False,
                    blocked_bot=False,
                    joined_at=now,
                )
            )
            await session.flush()


async def test_a_conditional_update_lets_exactly_one_of_two_claims_win(database: Database):
    from storage.changes import changed
    from storage.models.confirmations import IdCounter

    async with database.transaction() as session:
        session.add(IdCounter(table_name="claims", last_id=0))
    claims = []
    for _ in range(2):  # both saw last_id == 0; only the first may move it on
        async with database.transaction() as session:
            claims.append(
                await changed(
                    session,
                    IdCounter,
                    IdCounter.table_name == "claims",
                    IdCounter.last_id == 0,
                    values={"last_id": 1},
                )
            )
    assert claims == [1, 0]
    async with database.transaction() as session:
        claimed = select(IdCounter.last_id).where(IdCounter.table_name == "claims")
        assert await session.scalar(claimed) == 1
        with pytest.raises(ValueError, match="condition"):
            await changed(session, IdCounter, values={"last_id": 2})  # never every row
