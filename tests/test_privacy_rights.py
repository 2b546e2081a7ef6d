"""A person's rights: `/mydata` returns a row from every table that points at them, and
`/forgetme` leaves none (generic over the schema: new tables are covered automatically)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Integer,
    String,
    Table,
    Text,
    Time,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import rights
from bot.sandbox import Cast, Sandbox
from storage.base import Base, UTCDateTime
from storage.db import Database
from storage.models import Match, MatchVolunteer, Person
from tests.e2e import sqlite_files_bytes

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class RowBuilder:
    """Builds one valid row per table from the metadata alone: required columns get plain
    values, foreign keys point at the person, the group, or a parent row built the same way.
    A table it cannot fill makes the test fail loudly with the table's name."""

    def __init__(self, session: AsyncSession, group_id: int, person_id: int) -> None:
        self.session = session
        self.group_id = group_id
        self.person_id = person_id
        self.counter = 0
        self.built: dict[str, int] = {}

    def _plain_value(self, table: Table, column: Any) -> Any:
        self.counter += 1
        kind = column.type
        if isinstance(kind, UTCDateTime | DateTime):
            return NOW - timedelta(minutes=self.counter)
        if isinstance(kind, Boolean):
            return False
        if isinstance(kind, Date):
            return date(2026, 12, 1)
        if isinstance(kind, Time):
            return time(10, 0)
        if isinstance(kind, Integer):  # includes BigInteger
            return self.counter
        if isinstance(kind, String | Text):
            length = getattr(kind, "length", None) or 20
            return f"v{self.counter}"[:length]
        raise AssertionError(
            f"test_privacy_rights cannot fill {table.name}.{column.name} ({kind}): teach "
            "RowBuilder this type, so /mydata and /forgetme stay tested for every table"
        )

    async def row(self, table: Table) -> int:
        if table.name in self.built:
            return self.built[table.name]
        values: dict[str, Any] = {}
        for column in table.columns:
            keys = list(column.foreign_keys)
            if keys:
                target = keys[0].column.table
                if target.name == "people":
                    values[column.name] = self.person_id  # nullable ones too: they mention them
                elif target.name == "groups":
                    values[column.name] = self.group_id
                elif not column.nullable:
                    values[column.name] = await self.row(target)
            elif column.primary_key:
                continue
            elif not column.nullable:
                values[column.name] = self._plain_value(table, column)
        try:
            result = await self.session.execute(insert(table).values(values))
        except Exception as error:
            raise AssertionError(f"could not build a row for {table.name}: {error}") from error
        new_id = result.inserted_primary_key[0]
        self.built[table.name] = new_id
        return new_id


async def fill_every_table(session: AsyncSession, group_id: int, person_id: int) -> set[str]:
    builder = RowBuilder(session, group_id, person_id)
    for ref in rights.person_references():
        await builder.row(ref.table)
    return set(rights.tables_about_people())


async def strings_in_database(session: AsyncSession) -> list[str]:
    """Every text value stored anywhere, to look for a name."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text)]
        if columns:
            for row in await session.execute(select(*columns)):
                found += [str(v) for v in row if v is not None]
    return found


def test_every_table_about_people_is_found_and_cascades():
    """Features declare their person columns with ondelete so a person can be forgotten."""
    refs = rights.person_references()
    assert {"pauses", "match_volunteers"} <= {r.table.name for r in refs}
    for ref in refs:
        assert ref.ondelete in ("CASCADE", "SET NULL"), f"{ref.name} needs ondelete=CASCADE"


async def test_mydata_returns_every_table_and_forgetme_leaves_nothing(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    await box.say(cast.coordinator, "/start")
    await box.say(anna, "/start")
    await box.say(bo, "/start")
    services = box.services
    async with services.db.transaction() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == anna.id))
        bo_row = await session.scalar(select(Person).where(Person.telegram_user_id == bo.id))
        assert person is not None and bo_row is not None
        anna_id, bo_id = person.id, bo_row.id
        tables = await fill_every_table(session, services.group_id, anna_id)
        # Two real matches: one Anna shares with Bo, one that is only hers.
        shared = Match(
            group_id=services.group_id,
            kind="match",
            label="K.L.",
            rhythm="weekly",
            start_date=date(2026, 12, 1),
            created_at=NOW,
        )
        alone = Match(
            group_id=services.group_id,
            kind="match",
            label="P.J.",
            rhythm="weekly",
            start_date=date(2026, 12, 1),
            created_at=NOW,
        )
        session.add_all([shared, alone])
        await session.flush()
        for match, pid in ((shared, anna_id), (shared, bo_id), (alone, anna_id)):
            session.add(
                MatchVolunteer(
                    group_id=services.group_id,
                    match_id=match.id,
                    person_id=pid,
                    role="regular",
                    added_at=NOW,
                )
            )
    assert len(tables) >= 5, tables

    # /mydata: a JSON document with her row and at least one row from every table.
    await box.say(anna, "/mydata")
    message = box.fake.messages_to(anna.id)[-1]
    assert message.document is not None and message.document["file_name"] == "mine-data.json"
    assert "alt, hvad jeg gemmer om dig" in message.text
    export = json.loads(box.fake.files[message.document["file_id"]].content)
    assert export["person"]["first_name"] == "Anna"
    assert export["person"]["joined_at"].startswith("2026-")  # ISO dates
    for table in tables:
        assert export["tables"][table], f"/mydata left out {table}"
    assert "about" in export and "borgere" in export["about"].lower()

    # /forgetme asks first; "no" keeps everything.
    await box.say(anna, "/forgetme")
    question = box.fake.messages_to(anna.id)[-1]
    assert "sletter alt" in question.text and "men ikke hvem" in question.text
    await box.tap(anna, question, "privacy:keep")
    async with services.db.transaction() as session:
        assert (await rights.count_references(session, anna_id))["people.id"] == 1

    await box.say(anna, "/forgetme")
    question = box.fake.messages_to(anna.id)[-1]
    await box.tap(
        anna,
        question,
        next(b["callback_data"] for b in question.buttons if "forget" in b["callback_data"]),
    )
    assert "slettet alt" in box.last_text_to(anna.id)

    async with services.db.transaction() as session:
        counts = await rights.count_references(session, anna_id)
        assert set(counts.values()) == {0}, counts
        texts = " ".join(await strings_in_database(session)).lower()
        assert "anna" not in texts
        # The match she shared goes on with Bo; the one that was only hers waits for cover.
        volunteers = await session.scalars(
            select(MatchVolunteer.person_id).where(MatchVolunteer.match_id == shared.id)
        )
        assert list(volunteers) == [bo_id]
        assert await session.scalar(select(func.count()).select_from(Match)) >= 2
        assert await session.get(Person, bo_id) is not None

    # The coordinator is told which match needs cover, never who asked.
    told = box.last_text_to(cast.coordinator.id)
    assert "En frivillig har bedt om at blive glemt" in told
    assert "P.J." in told and "K.L." not in told
    assert "Anna" not in told

    # Afterwards she is unknown, and /mydata says nothing is stored.
    await box.say(anna, "/mydata")
    assert "gemmer ikke noget om dig" in box.last_text_to(anna.id)


async def test_forgotten_name_is_gone_from_the_sqlite_file_too(group: tuple[Sandbox, Cast]):
    """Deleted pages are overwritten (secure_delete), so the name is not left in the file."""
    box, cast = group
    if not box.settings.database_url.startswith("sqlite"):
        pytest.skip("about the SQLite file; PostgreSQL reuses dead tuples' space by VACUUM")
    dennis = cast.volunteers[3]
    await box.say(dennis, "/start")
    assert b"Dennis" in await checkpointed_file(box)  # the check below can fail
    await box.say(dennis, "/forgetme")
    question = box.fake.messages_to(dennis.id)[-1]
    data = next(b["callback_data"] for b in question.buttons if "forget" in b["callback_data"])
    await box.tap(dennis, question, data)
    content = await checkpointed_file(box)
    assert b"Dennis" not in content and b"dennis" not in content


async def test_after_forgetme_the_name_leaves_the_write_ahead_log_at_once(
    group: tuple[Sandbox, Cast],
):
    """Without waiting for a checkpoint or a clean stop: the -wal file is emptied too."""
    box, cast = group
    if not box.settings.database_url.startswith("sqlite"):
        pytest.skip("about the SQLite files")
    dennis = cast.volunteers[3]
    await box.say(dennis, "/start")

    def on_disk() -> bytes:
        return sqlite_files_bytes(box)

    assert b"Dennis" in on_disk()  # the check below can fail
    await box.say(dennis, "/forgetme")
    question = box.fake.messages_to(dennis.id)[-1]
    data = next(b["callback_data"] for b in question.buttons if "forget" in b["callback_data"])
    await box.tap(dennis, question, data)
    assert b"Dennis" not in on_disk() and b"dennis" not in on_disk()


async def checkpointed_file(box: Sandbox) -> bytes:
    """The SQLite file's bytes after the write-ahead log was folded into it."""
    async with box.services.db.transaction() as session:
        await session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    path = box.settings.database_url.split("///", 1)[1]
    with open(path, "rb") as handle:  # noqa: ASYNC230  (a small test file)
        return handle.read()


async def test_coordinator_exports_and_forgets_for_someone_who_phones(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    coordinator, bo = cast.coordinator, cast.volunteers[1]
    await box.say(coordinator, "/start")
    await box.say(bo, "/start")
    # A volunteer cannot ask for someone else's data.
    await box.say(bo, "/mydata @mette_koordinator")
    assert "kun koordinatoren" in box.last_text_to(bo.id)

    await box.say(coordinator, "/mydata @bo_frivillig")
    message = box.fake.messages_to(coordinator.id)[-1]
    export = json.loads(box.fake.files[message.document["file_id"]].content)
    assert export["person"]["telegram_user_id"] == bo.id
    assert box.fake.messages_to(bo.id)[-1].document is None  # the copy went to the coordinator

    await box.say(coordinator, "/forgetme @nobody_here")
    assert "kender ingen" in box.last_text_to(coordinator.id)
    assert "fx /forgetme @navn" in box.last_text_to(coordinator.id)  # a correct example

    await box.say(coordinator, "/forgetme @bo_frivillig")
    question = box.fake.messages_to(coordinator.id)[-1]
    assert "Bo" in question.text
    data = next(b["callback_data"] for b in question.buttons if "forget" in b["callback_data"])
    await box.tap(coordinator, question, data)
    assert "Intet match står uden en frivillig" in box.last_text_to(coordinator.id)
    async with box.services.db.transaction() as session:
        left = await session.scalars(select(Person.telegram_user_id))
        assert bo.id not in list(left)


async def test_someone_elses_confirmation_button_does_nothing(group: tuple[Sandbox, Cast]):
    box, cast = group
    anna, bo = cast.volunteers[0], cast.volunteers[1]
    await box.say(anna, "/start")
    await box.say(bo, "/start")
    async with box.services.db.transaction() as session:
        anna_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == anna.id))
    await box.say(bo, "/forgetme")
    question = box.fake.messages_to(bo.id)[-1]
    # Forged taps from Bo's chat: Anna's row id, and a token made up to look like one.
    for forged in (f"privacy:forget:{anna_id}", "privacy:forget:" + "A" * 22):
        await box.forge_tap(bo, question, forged)
    async with box.services.db.transaction() as session:
        assert await session.get(Person, anna_id) is not None


@pytest.mark.parametrize("reference", ["@Anna", "anna", "2001"])
async def test_coordinator_finds_people_by_username_or_id_even_after_they_left(
    group: tuple[Sandbox, Cast], reference: str
):
    box, cast = group
    await box.say(cast.volunteers[0], "/start")
    async with box.services.db.transaction() as session:
        person = await session.scalar(select(Person))
        person.is_member, person.left_at = False, NOW
    async with box.services.db.transaction() as session:
        found = await rights.find_person_for_coordinator(session, box.services.group_id, reference)
        assert found is not None and found.first_name == "Anna"


async def test_forgetting_works_the_same_on_sqlite_and_postgresql(database_url: str):
    """The cascades and SET NULLs hold on both databases (domain level)."""
    from bot.domain import people
    from storage.migrate import upgrade

    database = Database(database_url)
    await upgrade(database.engine)
    try:
        async with database.transaction() as session:
            group = await people.ensure_group(session, -42, NOW)
            who = people.TelegramPerson(7, "Gertrud", "gertrud_g", "da")
            person = await people.record_member(session, group.id, who, NOW, started_bot=True)
            tables = await fill_every_table(session, group.id, person.id)
            group_id, person_id = group.id, person.id
        async with database.transaction() as session:
            export = await rights.export_person(session, person_id, NOW)
            assert all(export["tables"][t] for t in tables)
            json.dumps(export)  # serialisable as it is
            await rights.forget_person(session, group_id, person_id, NOW)
        async with database.transaction() as session:
            assert set((await rights.count_references(session, person_id)).values()) == {0}
            assert "gertrud" not in " ".join(await strings_in_database(session)).lower()
    finally:
        await database.dispose()
