"""Groups are data: the operator adds, lists and removes them; the one-group shortcut
(GROUP_CHAT_ID + COORDINATOR_IDS) keeps working; a one-group database upgrades into it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from bot.app import upsert_configured_group
from bot.clock import FAKE_CLOCK_FILE_ENV, FakeClock, FileClock
from bot.config import load_settings
from bot.domain import groups, people
from bot.fake_telegram import FakeTelegram
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Sandbox, populate, sandbox_settings
from storage.db import Database
from storage.models import Pause, Person
from tests.test_config_and_cli import run_cli
from tests.upgrades import to_heads_but

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=COPENHAGEN)


async def test_a_group_is_added_changed_listed_and_removed_with_everything_of_it(
    database: Database,
):
    async with database.transaction() as session:
        a = await groups.add_group(session, -100, NOW, coordinator_ids=[11, 12])
        b = await groups.add_group(
            session, -200, NOW, coordinator_ids=[21], timezone="Europe/Berlin", language="en"
        )
        anna = people.TelegramPerson(31, "Anna", None, "da")
        await people.record_member(session, a.id, anna, NOW)
        await people.record_member(session, b.id, anna, NOW)  # in both groups
        coordinator = people.TelegramPerson(11, "Mette", None, "da")
        await people.record_member(session, a.id, coordinator, NOW)
    async with database.transaction() as session:
        assert await groups.coordinators_now(session, a.id, NOW) == [11, 12]
        assert await groups.is_coordinator(session, a.id, 11)
        assert not await groups.is_coordinator(session, b.id, 11)
        assert [g.chat_id for g in await groups.groups_of_member(session, 31)] == [-100, -200]
        assert [g.chat_id for g in await groups.groups_coordinated_by(session, 21)] == [-200]
        # A second add changes the group: coordinators replaced, settings kept unless given.
        again = await groups.add_group(session, -200, NOW, coordinator_ids=[21, 22])
        assert again.id == b.id and again.timezone == "Europe/Berlin" and again.language == "en"
        await groups.set_coordinators(session, a.id, [12], NOW)
    async with database.transaction() as session:
        mette = await people.find_person(session, a.id, 11)
        assert mette is not None and not mette.is_coordinator
        views = {v.chat_id: v for v in await groups.overview(session)}
        assert views[-100].coordinator_ids == (12,) and views[-100].members == 2
        assert views[-200].coordinator_ids == (21, 22) and views[-200].members == 1
        assert await groups.remove_group(session, -200)
        assert not await groups.remove_group(session, -999)
    async with database.transaction() as session:
        left = await session.scalars(sa.select(Person.group_id))
        assert set(left) == {a.id}
        assert await groups.coordinator_ids(session, b.id) == []


async def test_the_one_group_shortcut_is_brought_in_step_at_each_start(database: Database):
    settings, _ = load_settings(
        _env_file=None, group_chat_id=-100123, coordinator_ids="1001,1002", timezone="Europe/Oslo"
    )
    assert settings is not None
    async with database.transaction() as session:
        group = await upsert_configured_group(session, settings, NOW)
        assert group is not None and group.timezone == "Europe/Oslo"
    changed, _ = load_settings(_env_file=None, group_chat_id=-100123, coordinator_ids="1002")
    assert changed is not None
    async with database.transaction() as session:
        again = await upsert_configured_group(session, changed, NOW)
        assert again is not None and again.id == group.id
        assert await groups.coordinators_now(session, group.id, NOW) == [1002]
        assert again.timezone == "Europe/Copenhagen"


def test_admin_ids_are_checked_like_coordinator_ids():
    settings, problems = load_settings(_env_file=None, admin_ids="42, -7")
    assert settings is None
    assert any(line.startswith("ADMIN_IDS:") and "-7" in line for line in problems)
    settings, problems = load_settings(_env_file=None, admin_ids="42,43")
    assert settings is not None and settings.admin_ids == (42, 43)


TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ012345678"


def test_the_operator_adds_lists_and_removes_groups_and_check_finds_them(tmp_path: Path):
    # The command's "now" is the test's moment (the clock hook), not the day the suite runs.
    FileClock.write(tmp_path / "clock", NOW)
    env = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        FAKE_CLOCK_FILE_ENV: str(tmp_path / "clock"),
    }
    check = run_cli(["check"], tmp_path, env)
    assert check.returncode == 2 and "no group is registered" in check.stdout
    added = run_cli(
        [
            "groups",
            "add",
            "-100500",
            "--coordinator",
            "42",
            "--coordinator",
            "43,44",
            "--timezone",
            "Europe/Berlin",
        ],
        tmp_path,
        env,
    )
    assert added.returncode == 0, added.stderr
    run_cli(["groups", "add", "-100600", "--coordinator", "50", "--language", "en"], tmp_path, env)
    listed = run_cli(["groups", "list"], tmp_path, env)
    assert "-100500  time zone Europe/Berlin, language da, coordinators 42, 43, 44" in listed.stdout
    assert "-100600  time zone Europe/Copenhagen, language en, coordinators 50" in listed.stdout
    assert run_cli(["check"], tmp_path, env).returncode == 0
    wrong = run_cli(["groups", "add", "-100700", "--coordinator", "anna"], tmp_path, env)
    assert wrong.returncode == 2 and "'anna'" in wrong.stderr
    assert (
        run_cli(
            ["groups", "add", "-1", "--coordinator", "1", "--timezone", "Mars/Base"], tmp_path, env
        ).returncode
        == 2
    )
    unsure = run_cli(["groups", "remove", "-100500"], tmp_path, env)
    assert unsure.returncode == 2 and "--yes" in unsure.stderr
    assert run_cli(["groups", "remove", "-100500", "--yes"], tmp_path, env).returncode == 0
    listed = run_cli(["groups", "list"], tmp_path, env)
    assert "-100500" not in listed.stdout and "-100600" in listed.stdout
    assert "Traceback" not in listed.stdout + listed.stderr
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        [(created,)] = db.execute("SELECT created_at FROM groups WHERE chat_id = -100600")
    assert datetime.fromisoformat(created).replace(tzinfo=UTC) == NOW


async def old_one_group_database(url: str) -> None:
    """The database as PeerBot left it before groups were data: one group, its coordinator
    (Mette, 1001) and volunteers as people rows, and a pause going on."""
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.run_sync(to_heads_but, url, "0015")
        await connection.execute(
            sa.text("INSERT INTO groups (id, chat_id, created_at) VALUES (1, :chat, :at)"),
            {"chat": GROUP_CHAT_ID, "at": NOW.replace(tzinfo=None)},
        )
        for row_id, user_id, name, coordinator in (
            (1, 1001, "Mette", True),
            (2, 2001, "Anna", False),
            (3, 2002, "Bo", False),
        ):
            await connection.execute(
                sa.text(
                    "INSERT INTO people (id, group_id, telegram_user_id, first_name, language, "
                    "is_member, is_coordinator, started_bot, blocked_bot, joined_at) VALUES "
                    "(:id, 1, :user, :name, 'da', :yes, :coordinator, :yes, :no, :at)"
                ),
                {
                    "id": row_id,
                    "user": user_id,
                    "name": name,
                    "coordinator": coordinator,
                    "yes": True,
                    "no": False,
                    "at": NOW.replace(tzinfo=None),
                },
            )
        await connection.execute(
            sa.text(
                "INSERT INTO pauses (group_id, person_id, started_at, wants_cover) "
                "VALUES (1, 2, :at, :yes)"
            ),
            {"at": NOW.replace(tzinfo=None), "yes": True},
        )
    await db.dispose()


async def test_a_one_group_database_upgrades_into_groups_as_data_with_nothing_lost(
    database_url: str, tmp_path: Path
):
    await old_one_group_database(database_url)
    async with FakeTelegram() as fake:
        populate(fake)
        settings = sandbox_settings(
            tmp_path / "unused.sqlite3", fake, database_url=database_url, timezone="Europe/Oslo"
        )
        box = Sandbox(fake, settings, FakeClock(NOW))
        await box.start_bot()  # upgrades to heads, then the shortcut brings the group in step
        try:
            assert box.services.group_id == 1
            async with box.services.db.transaction() as session:
                (group,) = await groups.all_groups(session)
                assert (group.chat_id, group.timezone, group.language) == (
                    GROUP_CHAT_ID,
                    "Europe/Oslo",
                    "da",
                )
                assert await groups.coordinators_now(session, 1, NOW) == [1001]
                names = {p.first_name: p.is_coordinator for p in await people.members(session, 1)}
                assert names == {"Mette": True, "Anna": False, "Bo": False}
                pause = await session.scalar(sa.select(Pause))
                assert pause is not None and pause.person_id == 2 and pause.ended_at is None
            assert fake.spec_violations == []
        finally:
            await box.stop_bot()


async def test_the_migration_alone_keeps_the_coordinators_as_rows(database_url: str):
    """Without the shortcut (an operator who moved to `peerbot groups`), the coordinators
    the people rows remembered are the group's coordinators after the upgrade."""
    await old_one_group_database(database_url)
    from storage.migrate import upgrade

    db = Database(database_url)
    try:
        await upgrade(db.engine)
        async with db.transaction() as session:
            assert await groups.coordinators_now(session, 1, NOW) == [1001]
            group = await groups.find_group(session, GROUP_CHAT_ID)
            assert group is not None and group.timezone == "Europe/Copenhagen"
    finally:
        await db.dispose()


async def test_a_private_update_is_for_the_group_its_button_names_else_the_chosen_else_the_first(
    database: Database,
):
    async with database.transaction() as session:
        a = await groups.add_group(session, -100, NOW, coordinator_ids=[11], title="Øst")
        b = await groups.add_group(session, -200, NOW, coordinator_ids=[21])
        anna = people.TelegramPerson(31, "Anna", None, "da")
        await people.record_member(session, a.id, anna, NOW)
        await people.record_member(session, b.id, anna, NOW)
        key_a, key_b = groups.button_key(a), groups.button_key(b)
        assert key_a != key_b and len(key_a) == 8
        assert await groups.private_group(session, 31) == (a, True)
        assert await groups.private_group(session, 31, chosen=b.id) == (b, True)
        assert await groups.private_group(session, 31, key=key_a, chosen=b.id) == (a, True)
        # A key or choice of a group she is not in counts for nothing.
        assert await groups.private_group(session, 11, key=key_b, chosen=b.id) == (a, False)
        assert await groups.private_group(session, 999) == (None, False)
        # A group added after one was removed never takes over its key, whatever its id.
        await groups.remove_group(session, -200)
        later = await groups.add_group(session, -300, NOW.replace(hour=11), coordinator_ids=[41])
        assert groups.button_key(later) != key_b
    data = groups.mark_data("pause:len:2w", key_a)
    assert groups.split_data(data) == ("pause:len:2w", key_a)
    assert groups.split_data("pause:len:2w") == ("pause:len:2w", None)
