"""Broadcast rules on a real database (SQLite and PostgreSQL) with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.domain import broadcast as broadcasts
from bot.domain import people
from storage.db import Database
from storage.models import Pause, Person
from storage.models.broadcast import BroadcastDelivery

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=CPH).astimezone(UTC)
METTE = 1001


async def _group(db: Database) -> tuple[int, dict[str, int]]:
    """Mette (coordinator), Anna and Bo reachable, Camilla never started, Dennis blocked,
    Eva reachable but on a pause."""
    ids: dict[str, int] = {}
    async with db.transaction() as session:
        group = await people.ensure_group(session, -1, NOW)
        cast = [
            (METTE, "Mette", True),
            (2001, "Anna", True),
            (2002, "Bo", True),
            (2003, "Camilla", False),
            (2004, "Dennis", True),
            (2005, "Eva", True),
        ]
        for user_id, name, started in cast:
            who = people.TelegramPerson(user_id, name, None, "da")
            person = await people.record_member(
                session, group.id, who, NOW, started_bot=started or None
            )
            ids[name] = person.id
        await people.mark_unreachable(session, ids["Dennis"], blocked=True)
        session.add(Pause(group_id=group.id, person_id=ids["Eva"], started_at=NOW))
        return group.id, ids


async def _draft(db: Database, group_id: int, audience: str, important: bool) -> int:
    async with db.transaction() as session:
        draft = await broadcasts.start_composing(session, group_id, METTE, NOW)
        broadcasts.set_source(draft, METTE, 42)
        broadcasts.choose_audience(draft, audience)
        draft.important = important
        return draft.id


async def _statuses(db: Database, broadcast_id: int) -> dict[int | None, str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(BroadcastDelivery).where(BroadcastDelivery.broadcast_id == broadcast_id)
        )
        return {r.person_id: r.status for r in rows}


async def test_confirming_writes_every_delivery_before_anything_is_sent(database):
    group_id, ids = await _group(database)
    broadcast_id = await _draft(database, group_id, "both", important=False)
    async with database.transaction() as session:
        assert await broadcasts.confirm(session, group_id, broadcast_id, NOW)
        assert not await broadcasts.confirm(session, group_id, broadcast_id, NOW)  # only once
    assert await _statuses(database, broadcast_id) == {
        None: "pending",  # the group
        ids["Anna"]: "pending",
        ids["Bo"]: "pending",
        ids["Camilla"]: "not_started",
        ids["Dennis"]: "blocked",
    }  # not Mette herself, not Eva on her pause
    async with database.transaction() as session:
        report = await broadcasts.progress(session, broadcast_id)
    assert (report.waiting, report.not_started, report.blocked, report.paused_skipped) == (
        2,
        1,
        1,
        1,
    )
    assert report.group == "pending" and not report.finished


async def test_an_important_broadcast_reaches_a_volunteer_on_a_pause(database):
    group_id, ids = await _group(database)
    broadcast_id = await _draft(database, group_id, "volunteers", important=True)
    async with database.transaction() as session:
        await broadcasts.confirm(session, group_id, broadcast_id, NOW)
    statuses = await _statuses(database, broadcast_id)
    assert statuses[ids["Eva"]] == "pending"
    assert None not in statuses  # not the group


async def test_claims_are_taken_once_group_first_and_interruptions_are_not_resent(database):
    group_id, _ = await _group(database)
    broadcast_id = await _draft(database, group_id, "both", important=False)
    async with database.transaction() as session:
        await broadcasts.confirm(session, group_id, broadcast_id, NOW)
    async with database.transaction() as session:
        first = await broadcasts.claim_next(session, broadcast_id, NOW)
    assert first is not None and first.chat_id is None  # the group goes first
    async with database.transaction() as session:
        second = await broadcasts.claim_next(session, broadcast_id, NOW)
    assert second is not None and second.chat_id in (2001, 2002)
    assert (second.from_chat_id, second.message_id) == (METTE, 42)
    async with database.transaction() as session:
        await broadcasts.record_outcome(session, first.delivery_id, "sent", NOW, message_id=7)
    # The process stops here: `second` was claimed but its outcome never recorded.
    async with database.transaction() as session:
        assert await broadcasts.recover_interrupted(session, broadcast_id, NOW) == 1
        third = await broadcasts.claim_next(session, broadcast_id, NOW)
    assert third is not None and third.delivery_id != second.delivery_id
    async with database.transaction() as session:
        await broadcasts.record_outcome(session, third.delivery_id, "sent", NOW)
        assert await broadcasts.claim_next(session, broadcast_id, NOW) is None
        assert await broadcasts.finish_if_done(session, broadcast_id, NOW)
        report = await broadcasts.progress(session, broadcast_id)
    assert (report.sent, report.failed, report.group) == (1, 1, "sent")
    assert report.finished and report.retryable
    # The coordinator chooses to try the unknown one again.
    async with database.transaction() as session:
        assert await broadcasts.requeue_failed(session, group_id, broadcast_id, NOW) == 1
        again = await broadcasts.claim_next(session, broadcast_id, NOW)
    assert again is not None and again.delivery_id == second.delivery_id


async def test_telegram_saying_unreachable_is_remembered_on_the_person(database):
    group_id, _ = await _group(database)
    broadcast_id = await _draft(database, group_id, "volunteers", important=False)
    async with database.transaction() as session:
        await broadcasts.confirm(session, group_id, broadcast_id, NOW)
        claim = await broadcasts.claim_next(session, broadcast_id, NOW)
        assert claim is not None
        await broadcasts.record_outcome(session, claim.delivery_id, "blocked", NOW)
        person = await session.get_one(Person, claim.person_id)
        assert person.blocked_bot


async def test_a_new_composition_replaces_an_unfinished_draft(database):
    group_id, _ = await _group(database)
    async with database.transaction() as session:
        old = await broadcasts.start_composing(session, group_id, METTE, NOW)
        new = await broadcasts.start_composing(session, group_id, METTE, NOW)
        assert (await broadcasts.composing(session, group_id, METTE, NOW)).id == new.id
        await session.refresh(old)
        assert old.status == "cancelled"
        # A message written the next day is not taken for the broadcast any more.
        later = NOW + broadcasts.COMPOSING_WAITS + timedelta(minutes=1)
        assert await broadcasts.composing(session, group_id, METTE, later) is None
