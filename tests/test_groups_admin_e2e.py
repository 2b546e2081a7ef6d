"""An association admin (ADMIN_IDS) adds the bot to a new group and registers it with
/setup, naming its coordinator; /overview shows every group in numbers, never a name."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.domain import groups
from bot.sandbox import COPENHAGEN, GROUP_CHAT_ID, Cast, Sandbox, sandbox

START = datetime(2026, 11, 30, 9, 0, tzinfo=COPENHAGEN)
NEW_GROUP = -1003000000003
ADMIN = 1201


@pytest.fixture
async def box(tmp_path: Path) -> AsyncIterator[tuple[Sandbox, Cast]]:
    async with sandbox(tmp_path / "peerbot.sqlite3", START, admin_ids=str(ADMIN)) as running:
        yield running
        assert running[0].fake.spec_violations == []


async def test_an_admin_registers_a_new_group_and_names_its_coordinator(
    box: tuple[Sandbox, Cast],
):
    sandbox_, cast = box
    fake = sandbox_.fake
    lise = fake.add_user(ADMIN, "Lise", username="lise_forening")
    ole = fake.add_user(1301, "Ole", username="ole_koordinator")
    sif = fake.add_user(2301, "Sif", username="sif")
    fake.add_group(NEW_GROUP, "Frivillige Nord", supergroup=True)
    fake.set_member(NEW_GROUP, sif.id, "member")
    fake.add_bot_to_group(NEW_GROUP, lise, status="administrator")
    await sandbox_.settle()
    assert "/setup" in sandbox_.last_text_to(NEW_GROUP)  # it stayed, and says how
    fake.set_member(NEW_GROUP, ole.id, "administrator")
    hello = fake.send_text(ole, NEW_GROUP, "Hej alle")
    await sandbox_.settle()
    assert fake.chats[NEW_GROUP].bot_status == "administrator"  # quiet, not gone
    # Somebody else's /setup is not taken.
    fake.send_text(sif, NEW_GROUP, "/setup 2301")
    await sandbox_.settle()
    fake.send_text(lise, NEW_GROUP, "/setup", reply_to=hello)
    await sandbox_.settle()
    assert "Gruppen er registreret med 1 koordinator" in sandbox_.last_text_to(NEW_GROUP)
    async with sandbox_.services.db.transaction() as session:
        group = await groups.find_group(session, NEW_GROUP)
        assert group is not None
        assert await groups.coordinators_now(session, group.id, START) == [ole.id]
    # Ole is the coordinator there; Sif a volunteer there; the first group is untouched.
    await sandbox_.say(ole, "/start")
    assert "/volunteers" in sandbox_.last_text_to(ole.id)
    await sandbox_.say(sif, "/start")
    assert "Velkommen, Sif" in sandbox_.last_text_to(sif.id)
    await sandbox_.say(ole, "/volunteers")
    listing = sandbox_.last_text_to(ole.id)
    assert "Sif" in listing and "Anna" not in listing
    await sandbox_.say(cast.coordinator, "/volunteers")
    assert "Sif" not in sandbox_.last_text_to(cast.coordinator.id)


async def test_a_group_added_by_anyone_else_is_left(box: tuple[Sandbox, Cast]):
    sandbox_, cast = box
    fake = sandbox_.fake
    fake.add_group(-1004000000004, "Fremmed")
    fake.add_bot_to_group(-1004000000004, cast.stranger)
    await sandbox_.settle()
    assert fake.chats[-1004000000004].bot_status == "left"


async def test_the_overview_gives_an_admin_counts_per_group_and_no_names(
    box: tuple[Sandbox, Cast],
):
    sandbox_, cast = box
    lise = sandbox_.fake.add_user(ADMIN, "Lise", username="lise_forening")
    for user in (cast.coordinator, *cast.volunteers):
        await sandbox_.say(user, "/start")
    await sandbox_.say(cast.coordinator, "/pausevolunteer @anna")
    await sandbox_.say(lise, "/overview")
    text = sandbox_.last_text_to(lise.id)
    assert f"Gruppe {GROUP_CHAT_ID}: frivillige 4 · aktive match 0 · holder pause 1" in text
    assert "venter på et match 3" in text
    for person in (cast.coordinator, *cast.volunteers):
        assert person.first_name not in text
    # Nobody else gets it.
    await sandbox_.say(cast.coordinator, "/overview")
    assert "Alle grupper i tal" not in sandbox_.last_text_to(cast.coordinator.id)
