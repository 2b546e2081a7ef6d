"""Broadcast rules on a real database (SQLite and PostgreSQL) with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.domain import broadcast as broadcasts
from bot.domain import outbox, people
from storage.db import Database
from storage.models import Pause
from storage.models.outbox import OutboxItem

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
        mette = await people.find_person(session, group_id, METTE)
        assert mette is not None
        draft = await broadcasts.start_composing(session, group_id, mette.id, NOW)
        broadcasts.set_source(draft, METTE, 42)
        broadcasts.choose_audience(draft, audience)
        draft.important = important
        return draft.id


async def _statuses(db: Database, broadcast_id: int) -> dict[int | None, str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(OutboxItem).where(
                OutboxItem.kind == broadcasts.KIND, OutboxItem.subject_id == broadcast_id
            )
        )
        return {r.person_id: r.outcome or r.state for r in rows}


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


async def test_copies_go_group_first_through_the_outbox_and_can_be_tried_again(database):
    group_id, ids = await _group(database)
    broadcast_id = await _draft(database, group_id, "both", important=False)
    async with database.transaction() as session:
        await broadcasts.confirm(session, group_id, broadcast_id, NOW)
    kinds = frozenset({broadcasts.KIND})
    async with database.transaction() as session:
        first = await outbox.claim_next(session, group_id, NOW, "me", kinds)
        assert first is not None and first.person_id is None  # the group goes first
        copy = await broadcasts.copy_for(session, group_id, first, NOW)
        assert copy == broadcasts.Copy(None, METTE, 42)
        second = await outbox.claim_next(session, group_id, NOW, "me", kinds)
        assert second is not None and second.person_id in (ids["Anna"], ids["Bo"])
        await outbox.record(session, first.item_id, "sent", NOW)
        await outbox.record(session, second.item_id, "unknown", NOW)
    # The other one went on a pause since: not important, so she gets nothing after all.
    async with database.transaction() as session:
        third = await outbox.claim_next(session, group_id, NOW, "me", kinds)
        assert third is not None and third.person_id is not None
        session.add(Pause(group_id=group_id, person_id=third.person_id, started_at=NOW))
        await session.flush()
        assert await broadcasts.copy_for(session, group_id, third, NOW) is None
        await outbox.record(session, third.item_id, outbox.NOT_WANTED, NOW)
        assert await outbox.claim_next(session, group_id, NOW, "me", kinds) is None
        assert await broadcasts.finish_if_done(session, broadcast_id, NOW)
        report = await broadcasts.progress(session, broadcast_id)
    assert (report.sent, report.failed, report.group, report.paused_skipped) == (0, 1, "sent", 2)
    assert report.finished and report.retryable
    # The coordinator chooses to try the unknown one again.
    async with database.transaction() as session:
        assert await broadcasts.requeue_failed(session, group_id, broadcast_id, NOW) == 1
        again = await outbox.claim_next(session, group_id, NOW, "next", kinds)
        assert again is not None and again.item_id == second.item_id and not again.retried
        assert not (await broadcasts.progress(session, broadcast_id)).finished


async def test_a_new_composition_replaces_an_unfinished_draft(database):
    group_id, ids = await _group(database)
    mette = ids["Mette"]
    async with database.transaction() as session:
        old = await broadcasts.start_composing(session, group_id, mette, NOW)
        new = await broadcasts.start_composing(session, group_id, mette, NOW)
        assert (await broadcasts.composing(session, group_id, mette, NOW)).id == new.id
        await session.refresh(old)
        assert old.status == "cancelled"
        # A message written the next day is not taken for the broadcast any more.
        later = NOW + broadcasts.COMPOSING_WAITS + timedelta(minutes=1)
        assert await broadcasts.composing(session, group_id, mette, later) is None


async def test_someone_who_left_before_their_copy_is_not_counted_as_on_a_pause(database):
    group_id, _ids = await _group(database)
    broadcast_id = await _draft(database, group_id, "volunteers", important=False)
    async with database.transaction() as session:
        await broadcasts.confirm(session, group_id, broadcast_id, NOW)
        await people.record_left(session, group_id, 2002, NOW)  # Bo leaves meanwhile
    kinds = frozenset({broadcasts.KIND})
    async with database.transaction() as session:
        while (claim := await outbox.claim_next(session, group_id, NOW, "me", kinds)) is not None:
            copy = await broadcasts.copy_for(session, group_id, claim, NOW)
            outcome = outbox.NOT_WANTED if copy is None else "sent"
            await outbox.record(session, claim.item_id, outcome, NOW)
        report = await broadcasts.progress(session, broadcast_id)
    # Anna got it; Bo left; Eva's pause (known when it was confirmed) is the only pause.
    assert (report.sent, report.left, report.paused_skipped) == (1, 1, 1)
