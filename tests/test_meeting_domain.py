"""The meeting's rules on a real database (SQLite and PostgreSQL) with a fixed `now`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import meeting as m
from bot.domain import meeting_dates as d
from bot.domain import meeting_messages as mm
from bot.domain import people
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Pause, Person
from storage.models.outbox import OutboxItem

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
COORDINATOR = 1001
DEC_9 = datetime(2026, 12, 9, 17, 0, tzinfo=CPH)
DEC_10 = datetime(2026, 12, 10, 16, 30, tzinfo=CPH)
DEFAULTS = {
    "slots": "tue 17:00",
    "place": "",
    "count": "4",
    "opens": "15 10:00",
    "days": "5",
    "reminders": "1d@10:00, 2h",
}


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    """A migrated database, SQLite and PostgreSQL in turn (tests/conftest.py)."""
    db = Database(database_url)
    await upgrade(db.engine)
    async with db.transaction() as session:
        yield session
    await db.dispose()


async def setup_group(session: AsyncSession) -> tuple[int, dict[str, Person]]:
    group = await people.ensure_group(session, -100123, NOW)
    cast = {}
    for user_id, name in [(COORDINATOR, "Mette"), (1, "Anna"), (2, "Bo"), (3, "Cai"), (4, "Dan")]:
        who = people.TelegramPerson(user_id, name, None, "da")
        cast[name] = await people.record_member(session, group.id, who, NOW, started_bot=True)
    return group.id, cast


async def test_answers_change_retract_and_count_only_active_volunteers(session: AsyncSession):
    group_id, cast = await setup_group(session)
    meeting = await m.open_meeting(session, group_id, [DEC_9, DEC_10], NOW, "", NOW)
    await m.record_answer(session, meeting, cast["Anna"].id, [0], NOW)
    await m.record_answer(session, meeting, cast["Anna"].id, [1], NOW)  # changed
    await m.record_answer(session, meeting, cast["Bo"].id, [0, 1], NOW)
    await m.record_answer(session, meeting, cast["Bo"].id, [], NOW)  # retracted
    await m.record_answer(session, meeting, cast["Cai"].id, [2], NOW)  # none of the days
    assert await m.answers(session, meeting.id) == {cast["Anna"].id: {1}, cast["Cai"].id: {2}}
    session.add(Pause(group_id=group_id, person_id=cast["Dan"].id, started_at=NOW))
    await session.flush()
    active = await m.volunteers(session, group_id, NOW, [COORDINATOR])
    assert [p.first_name for p in active] == ["Anna", "Bo", "Cai"]  # no coordinator, no pause
    assert not await m.is_active_volunteer(session, cast["Dan"], NOW, [COORDINATOR])
    counts = await m.tally(session, meeting.id, {p.id for p in active})
    assert [(c.starts_at, c.yes) for c in counts] == [(DEC_9, 0), (DEC_10, 1)]
    assert m.winning_date(counts) == DEC_10


async def reminders(session: AsyncSession) -> list[tuple[str, datetime, str]]:
    """The promised meeting reminders: (to whom, when, state)."""
    rows = await session.execute(
        select(Person.first_name, OutboxItem.due_at, OutboxItem.state)
        .join(Person, Person.id == OutboxItem.person_id)
        .where(OutboxItem.kind == mm.REMINDER)
        .order_by(OutboxItem.due_at, Person.first_name)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_decision_promises_reminders_and_the_picture(session: AsyncSession):
    group_id, cast = await setup_group(session)
    meeting = await m.open_meeting(session, group_id, [DEC_9, DEC_10], NOW, "", NOW)
    await m.record_answer(session, meeting, cast["Anna"].id, [0], NOW)
    await m.record_answer(session, meeting, cast["Bo"].id, [1], NOW)
    leads = d.parse_leads("1d@10:00, 2h, 30d")
    assert await mm.decide(session, meeting, DEC_9, leads, CPH, NOW, [COORDINATOR]) is False
    seen = await m.picture(session, meeting, NOW, [COORDINATOR])
    assert [p.first_name for p in seen.can] == ["Anna"]
    assert [p.first_name for p in seen.cannot] == ["Bo"]
    assert [p.first_name for p in seen.unanswered] == ["Cai", "Dan"]
    day_before = datetime(2026, 12, 8, 10, 0, tzinfo=CPH)
    two_hours = datetime(2026, 12, 9, 15, 0, tzinfo=CPH)
    # To those who can come or haven't said; none 30 days before (already past).
    assert await reminders(session) == [
        (name, when, "pending")
        for when in (day_before, two_hours)
        for name in ("Anna", "Cai", "Dan")
    ]
    assert await m.yes_person_ids(session, meeting.id) == {cast["Anna"].id}
    # Moving it lets the old reminders go, promises new ones and bumps the calendar sequence.
    assert await mm.decide(session, meeting, DEC_10, leads[:1], CPH, NOW, [COORDINATOR]) is True
    assert meeting.sequence == 1
    assert await m.yes_person_ids(session, meeting.id) == {cast["Bo"].id}
    dec_9_10 = datetime(2026, 12, 9, 10, 0, tzinfo=CPH)
    assert [r for r in await reminders(session) if r[2] == "pending"] == [
        (name, dec_9_10, "pending") for name in ("Bo", "Cai", "Dan")
    ]


async def test_latest_decided_meeting_is_the_last_one_whose_time_has_come(session: AsyncSession):
    group_id, _cast = await setup_group(session)
    assert await m.latest_decided_meeting(session, group_id, NOW) is None
    first = await m.new_decided_meeting(session, group_id, "", NOW)
    await m.decide(session, first, DEC_9, NOW)
    second = await m.new_decided_meeting(session, group_id, "", NOW)
    await m.decide(session, second, DEC_10, NOW)
    assert await m.latest_decided_meeting(session, group_id, NOW) is None
    assert await m.latest_decided_meeting(session, group_id, DEC_9 + timedelta(hours=3)) == first
    assert await m.latest_decided_meeting(session, group_id, DEC_10 + timedelta(days=1)) == second
    assert await m.yes_person_ids(session, second.id) == set()  # not a poll date


async def test_closing_and_nudging_are_claimed_once(session: AsyncSession):
    group_id, _cast = await setup_group(session)
    closes = NOW + timedelta(days=5)
    meeting = await m.open_meeting(session, group_id, [DEC_9], closes, "", NOW)
    await m.attach_poll(session, meeting.id, "poll-1", -100123, 7)
    assert await mm.due_nudge_rounds(session, group_id, closes - timedelta(days=1, minutes=1)) == []
    assert await mm.due_nudge_rounds(session, group_id, closes - timedelta(days=1)) == [meeting]
    assert await mm.finish_nudge_round(session, meeting.id, NOW) is True
    assert await mm.finish_nudge_round(session, meeting.id, NOW) is False
    assert await m.due_closings(session, group_id, closes) == [meeting]
    assert await m.claim_close(session, meeting.id, closes) is True
    assert await m.claim_close(session, meeting.id, closes) is False
    assert await m.month_is_planned(session, group_id, 2026, 12, CPH) is True
    assert await m.month_is_planned(session, group_id, 2027, 1, CPH) is False


async def test_settings_fall_back_to_defaults_and_are_validated(session: AsyncSession):
    group_id, _cast = await setup_group(session)
    assert await m.setting_values(session, group_id, DEFAULTS) == DEFAULTS
    assert await m.change_setting(session, group_id, "slots", "Ons 18.00, tir 17:00") == (
        "tue 17:00, wed 18:00"
    )
    await m.change_setting(session, group_id, "place", "Frivilligcentret")
    config = await m.load_config(session, group_id, DEFAULTS, 120)
    assert config.place == "Frivilligcentret" and len(config.slots) == 2
    for key, bad in [("count", "12"), ("days", "0"), ("opens", "30 10:00"), ("reminders", "x")]:
        with pytest.raises(ValueError):
            await m.change_setting(session, group_id, key, bad)


def test_the_nudge_links_to_the_poll_only_in_a_supergroup():
    from handlers.meeting_flow import poll_link
    from storage.models.meeting import Meeting

    assert poll_link(Meeting(poll_chat_id=-1001234567890, poll_message_id=42)) == (
        "https://t.me/c/1234567890/42"
    )
    assert poll_link(Meeting(poll_chat_id=-4567, poll_message_id=42)) is None  # a plain group
