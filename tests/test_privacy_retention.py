"""Retention: the daily job deletes what is past its period, and nothing else."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from bot.config import Settings
from bot.domain import retention, rights
from bot.domain.retention import RULES, RetentionRule, months_before
from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from storage.base import Base
from storage.db import Database
from storage.models import Group, Match, MatchOccurrence, MatchVolunteer, Pause, Person
from storage.models.meeting import Meeting, MeetingAnswer
from storage.models.minutes import Attendance, Minutes
from storage.models.privacy import RetentionRun

NOW = datetime(2026, 12, 15, 3, 0, tzinfo=UTC)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_every_table_about_a_person_has_a_retention_rule_or_is_kept_while_in_the_group():
    """Fails loudly when a feature adds a table about people without saying how long it
    is kept: add a RetentionRule (bot/domain/retention.py) or list it in
    KEPT_WHILE_IN_GROUP, and say so in the README's privacy section."""
    covered = retention.covered_tables()
    undecided = sorted(set(rights.tables_about_people()) - covered - retention.KEPT_WHILE_IN_GROUP)
    assert undecided == []


def test_rules_name_real_tables_columns_and_settings():
    for rule in RULES:
        table = Base.metadata.tables.get(rule.table_name)
        assert table is not None, f"{rule.table_name}: no such table"
        if rule.via is not None:
            table = next(iter(table.c[rule.via].foreign_keys)).column.table
        assert rule.timestamp_column in table.c, f"{rule.table_name}.{rule.timestamp_column}"
        assert rule.settings_field in Settings.model_fields, rule.settings_field
    minutes = Settings.model_fields["minutes_retention_months"]
    assert minutes.default == 12


def test_months_are_calendar_months():
    assert months_before(datetime(2026, 3, 31, 3, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, 3, tzinfo=UTC
    )
    assert months_before(datetime(2026, 1, 15, tzinfo=UTC), 12) == datetime(2025, 1, 15, tzinfo=UTC)
    rule = RetentionRule("people", "left_at", "retention_left_days")
    assert rule.cutoff(settings(), NOW) == NOW - timedelta(days=30)


async def make_world(db: Database) -> dict[str, int]:
    """A group with one row just inside and one just outside each retention period."""
    ids: dict[str, int] = {}
    async with db.transaction() as session:
        group = Group(chat_id=-1, created_at=NOW - timedelta(days=800))
        session.add(group)
        await session.flush()

        def person(tg: int, name: str, left_days: int | None) -> Person:
            return Person(
                group_id=group.id,
                telegram_user_id=tg,
                first_name=name,
                language="da",
                is_member=left_days is None,
                is_coordinator=False,
                started_bot=True,
                blocked_bot=False,
                joined_at=NOW - timedelta(days=400),
                left_at=None if left_days is None else NOW - timedelta(days=left_days),
            )

        staying, left_long, left_recent = (
            person(1, "Anna", None),
            person(2, "Bo", 31),
            person(3, "Camilla", 29),
        )
        session.add_all([staying, left_long, left_recent])
        await session.flush()
        ids.update(
            group=group.id, staying=staying.id, left_long=left_long.id, left_recent=left_recent.id
        )

        def pause(ended_months_ago: int | None) -> Pause:
            return Pause(
                group_id=group.id,
                person_id=staying.id,
                started_at=NOW - timedelta(days=500),
                ended_at=None if ended_months_ago is None else months_before(NOW, ended_months_ago),
                wants_cover=False,
            )

        old_pause, recent_pause, running_pause = pause(13), pause(11), pause(None)
        session.add_all([old_pause, recent_pause, running_pause])

        def match(label: str, ended_months_ago: int | None) -> Match:
            return Match(
                group_id=group.id,
                kind="match",
                label=label,
                rhythm="weekly",
                start_date=date(2025, 1, 6),
                created_at=NOW - timedelta(days=700),
                ended_at=None if ended_months_ago is None else months_before(NOW, ended_months_ago),
            )

        old_match, recent_match, running = match("A", 7), match("B", 5), match("C", None)
        session.add_all([old_match, recent_match, running])
        await session.flush()
        for m in (old_match, recent_match, running):
            session.add(
                MatchVolunteer(
                    group_id=group.id,
                    match_id=m.id,
                    person_id=staying.id,
                    role="regular",
                    added_at=NOW - timedelta(days=700),
                )
            )
        # A cover on the running match that ended 7 months ago: goes; the match stays.
        session.add(
            MatchVolunteer(
                group_id=group.id,
                match_id=running.id,
                person_id=left_recent.id,
                role="temporary",
                added_at=NOW - timedelta(days=300),
                ended_at=months_before(NOW, 7),
            )
        )
        for months_ago in (13, 11):
            start = months_before(NOW, months_ago)
            session.add(
                MatchOccurrence(
                    group_id=group.id,
                    match_id=running.id,
                    scheduled_date=start.date(),
                    local_date=start.date(),
                    local_time=start.time(),
                    starts_at=start,
                    status="planned",
                    changed_by=staying.id,
                )
            )
        for months_ago in (13, 11):
            meeting = Meeting(
                group_id=group.id, status="decided", opened_at=months_before(NOW, months_ago)
            )
            session.add(meeting)
            await session.flush()
            session.add(
                MeetingAnswer(
                    group_id=group.id,
                    meeting_id=meeting.id,
                    person_id=staying.id,
                    position=0,
                    answered_at=months_before(NOW, months_ago),
                )
            )
            session.add(
                Attendance(
                    group_id=group.id, meeting_id=meeting.id, person_id=staying.id, present=True
                )
            )
            session.add(
                Minutes(
                    group_id=group.id,
                    meeting_id=meeting.id,
                    status="confirmed",
                    text="…",
                    created_at=months_before(NOW, months_ago),
                )
            )
        ids.update(
            old_match=old_match.id, recent_match=recent_match.id, running=running.id, old_pause=0
        )
    return ids


async def count(db: Database, model: type) -> int:
    async with db.transaction() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_each_rule_deletes_only_what_is_past_its_period(database: Database):
    ids = await make_world(database)
    async with database.transaction() as session:
        deleted = await retention.apply_rules(session, ids["group"], settings(), NOW)
    assert deleted["people"] == 1 and deleted["pauses"] == 1 and deleted["matches"] == 1
    assert deleted["meeting_answers"] == 1 and deleted["match_occurrences"] == 1
    async with database.transaction() as session:
        people = set(await session.scalars(select(Person.first_name)))
        assert people == {"Anna", "Camilla"}  # Bo left 31 days ago; Camilla 29
        ended = list(await session.scalars(select(Pause.ended_at)))
        assert len(ended) == 2 and None in ended  # the running pause is never touched
        labels = set(await session.scalars(select(Match.label)))
        assert labels == {"B", "C"}
        covers = list(
            await session.scalars(
                select(MatchVolunteer.role).where(MatchVolunteer.match_id == ids["running"])
            )
        )
        assert covers == ["regular"]  # the ended cover went, the running match stayed
        answers = list(await session.scalars(select(MeetingAnswer.answered_at)))
        assert answers == [months_before(NOW, 11)]
    assert await count(database, MatchOccurrence) == 1
    assert deleted["attendance"] == 1 and deleted["minutes"] == 1
    assert await count(database, Attendance) == 1 and await count(database, Minutes) == 1
    # Nothing more to do a moment later.
    async with database.transaction() as session:
        again = await retention.apply_rules(session, ids["group"], settings(), NOW)
    assert sum(again.values()) == 0


async def test_periods_are_configurable(database: Database):
    ids = await make_world(database)
    async with database.transaction() as session:
        await retention.apply_rules(
            session,
            ids["group"],
            settings(retention_left_days=10, retention_pauses_months=24),
            NOW,
        )
    assert await count(database, Person) == 1  # both who left are past 10 days
    assert await count(database, Pause) == 3  # 24 months: every pause stays


async def test_runs_at_most_once_a_day_and_remembers_it(database: Database):
    ids = await make_world(database)
    async with database.transaction() as session:
        first = await retention.run_if_due(session, ids["group"], settings(), NOW)
    assert first is not None and sum(first.deleted.values()) > 0
    async with database.transaction() as session:
        assert (
            await retention.run_if_due(session, ids["group"], settings(), NOW + timedelta(hours=23))
            is None
        )
    async with database.transaction() as session:
        run = await session.scalar(select(RetentionRun))
        assert run.last_run_at == NOW and run.deleted_rows == sum(first.deleted.values())
    async with database.transaction() as session:
        later = await retention.run_if_due(
            session, ids["group"], settings(), NOW + timedelta(days=1)
        )
    assert later is not None


async def test_someone_who_left_is_deleted_by_the_daily_pass_after_30_days(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna, bo = cast.coordinator, cast.volunteers[0], cast.volunteers[1]
    for user in (mette, anna, bo):
        await box.say(user, "/start")
    await box.say(mette, '/match @bo_frivillig "R.S." weekly thu 10:00')
    await box.say(mette, '/match @anna @bo_frivillig "K.L." weekly tue 10:00')
    box.fake.leave(GROUP_CHAT_ID, bo)
    await box.settle()

    async def bo_is_stored() -> bool:
        async with box.services.db.transaction() as session:
            person = await session.scalar(select(Person).where(Person.telegram_user_id == bo.id))
            if person is None:
                return False
            return sum((await rights.count_references(session, person.id)).values()) > 0

    def deletion_notes() -> list[str]:
        return [t for t in box.texts_to(mette.id) if "forlod gruppen" in t]

    await box.advance(timedelta(days=29))
    assert await bo_is_stored()
    assert deletion_notes() == []
    await box.advance(timedelta(days=2))
    assert not await bo_is_stored()
    [note] = deletion_notes()
    assert "R.S." in note and "K.L." not in note  # K.L. still has Anna
    assert "Bo" not in note
    # Once a day: another pass the same day changes and says nothing.
    await box.advance(timedelta(hours=2))
    assert len(deletion_notes()) == 1


async def test_someone_deleted_by_the_daily_pass_leaves_the_write_ahead_log_too(tmp_path):
    """As after /forgetme: the name is gone from the SQLite files at once, not only from
    the tables (the write-ahead log kept it until some later checkpoint)."""
    from bot.sandbox import sandbox
    from tests.e2e import sqlite_files_bytes

    async with sandbox(tmp_path / "retention_wal.sqlite3") as (box, cast):
        dennis = cast.volunteers[3]
        await box.say(dennis, "/start")

        def on_disk() -> bytes:
            return sqlite_files_bytes(box)

        box.fake.leave(GROUP_CHAT_ID, dennis)
        await box.settle()
        await box.advance(timedelta(days=29))
        assert b"Dennis" in on_disk()  # the check below can fail
        await box.advance(timedelta(days=2))
        assert b"Dennis" not in on_disk() and b"dennis" not in on_disk()
