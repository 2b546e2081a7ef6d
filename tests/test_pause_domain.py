"""The pause rules on a real SQLite file with a fixed `now`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import pause as pauses
from bot.domain import people
from storage.db import Database

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=CPH).astimezone(UTC)
RHYTHM = pauses.Rhythm(checkin_every=timedelta(weeks=3), open_ended_ask_after=timedelta(weeks=6))


async def _anna(db: Database) -> tuple[int, int]:
    async with db.transaction() as session:
        group = await people.ensure_group(session, -1, NOW)
        who = people.TelegramPerson(2001, "Anna", "anna", "da")
        person = await people.record_member(session, group.id, who, NOW, started_bot=True)
        return group.id, person.id


def test_button_lengths_become_dates():
    today = date(2026, 11, 30)
    assert pauses.planned_end(pauses.Length.TWO_WEEKS, today) == date(2026, 12, 14)
    assert pauses.planned_end(pauses.Length.ONE_MONTH, today) == date(2026, 12, 30)
    assert pauses.planned_end(pauses.Length.THREE_MONTHS, today) == date(2027, 2, 28)  # short Feb
    assert pauses.planned_end(pauses.Length.OPEN, today) is None


def test_typed_dates_in_both_forms_and_kind_refusals():
    today = date(2026, 11, 30)
    assert pauses.parse_end_date("15-01-2027", today) == date(2027, 1, 15)
    assert pauses.parse_end_date(" 15.1.2027 ", today) == date(2027, 1, 15)
    assert pauses.parse_end_date("2027-01-15", today) == date(2027, 1, 15)
    assert pauses.parse_end_date("31-02-2027", today) is pauses.DateProblem.UNREADABLE
    assert pauses.parse_end_date("next week", today) is pauses.DateProblem.UNREADABLE
    assert pauses.parse_end_date("30-11-2026", today) is pauses.DateProblem.NOT_IN_FUTURE
    assert pauses.parse_end_date("01-01-2030", today) is pauses.DateProblem.TOO_FAR


async def test_a_dated_pause_is_asked_about_on_its_date_at_ten_local(database: Database):
    group_id, anna = await _anna(database)
    async with database.transaction() as session:
        pause = await pauses.start_pause(
            session,
            group_id,
            anna,
            NOW,
            until_day=date(2027, 4, 1),
            wants_cover=True,
            rhythm=RHYTHM,
            tz=CPH,
        )
    # 10:00 in Copenhagen in summer time is 08:00 UTC.
    assert pause.until == datetime(2027, 4, 1, 8, 0, tzinfo=UTC)
    assert pause.ask_at == pause.until
    assert pause.next_checkin_at == datetime(2026, 12, 21, 9, 0, tzinfo=UTC)
    async with database.transaction() as session:
        assert await people.paused_person_ids(session, group_id, NOW) == {anna}
        with pytest.raises(pauses.AlreadyPaused):
            await pauses.start_pause(
                session,
                group_id,
                anna,
                NOW,
                until_day=None,
                wants_cover=False,
                rhythm=RHYTHM,
                tz=CPH,
            )


async def test_a_pause_does_not_end_by_itself_at_its_date(database: Database):
    group_id, anna = await _anna(database)
    async with database.transaction() as session:
        await pauses.start_pause(
            session,
            group_id,
            anna,
            NOW,
            until_day=date(2026, 12, 14),
            wants_cover=True,
            rhythm=RHYTHM,
            tz=CPH,
        )
    later = NOW + timedelta(weeks=10)
    async with database.transaction() as session:
        assert await people.paused_person_ids(session, group_id, later) == {anna}


async def test_checkins_come_every_three_weeks_and_missed_ones_collapse(database: Database):
    group_id, anna = await _anna(database)
    async with database.transaction() as session:
        pause = await pauses.start_pause(
            session, group_id, anna, NOW, until_day=None, wants_cover=True, rhythm=RHYTHM, tz=CPH
        )
    async with database.transaction() as session:
        assert await pauses.due_checkins(session, group_id, NOW + timedelta(weeks=2)) == []
        late = NOW + timedelta(weeks=7)  # the bot was down for a long time
        assert await pauses.due_checkins(session, group_id, late) == [pause.id]
        claimed = await pauses.claim_checkin(session, pause.id, late, rhythm=RHYTHM, tz=CPH)
        assert claimed is not None and claimed.next_checkin_at > late
        # A second pass at the same moment finds nothing: it was claimed.
        assert await pauses.claim_checkin(session, pause.id, late, rhythm=RHYTHM, tz=CPH) is None
        assert await pauses.due_checkins(session, group_id, late) == []


async def test_open_ended_question_after_six_weeks_and_never_more_often(database: Database):
    group_id, anna = await _anna(database)
    async with database.transaction() as session:
        pause = await pauses.start_pause(
            session, group_id, anna, NOW, until_day=None, wants_cover=False, rhythm=RHYTHM, tz=CPH
        )
    six_weeks = NOW + timedelta(weeks=6)
    async with database.transaction() as session:
        assert await pauses.due_questions(session, group_id, six_weeks - timedelta(hours=1)) == []
        assert await pauses.due_questions(session, group_id, six_weeks + timedelta(hours=1)) == [
            pause.id
        ]
        asked = await pauses.claim_question(
            session, pause.id, six_weeks + timedelta(hours=1), rhythm=RHYTHM, tz=CPH
        )
        assert asked is not None
        assert await pauses.due_questions(session, group_id, six_weeks + timedelta(weeks=5)) == []
        assert await pauses.due_questions(
            session, group_id, six_weeks + timedelta(weeks=6, hours=2)
        )


async def test_extend_and_end(database: Database):
    group_id, anna = await _anna(database)
    async with database.transaction() as session:
        await pauses.start_pause(
            session,
            group_id,
            anna,
            NOW,
            until_day=date(2026, 12, 14),
            wants_cover=True,
            rhythm=RHYTHM,
            tz=CPH,
        )
    async with database.transaction() as session:
        longer = await pauses.extend_pause(
            session, anna, NOW, until_day=date(2027, 1, 11), rhythm=RHYTHM, tz=CPH
        )
        assert longer.until == longer.ask_at == datetime(2027, 1, 11, 9, 0, tzinfo=UTC)
    async with database.transaction() as session:
        ended = await pauses.end_pause(session, anna, NOW + timedelta(days=1))
        assert ended.ended_at == NOW + timedelta(days=1)
        assert ended.ask_at is None and ended.next_checkin_at is None
        assert await people.paused_person_ids(session, group_id, NOW + timedelta(days=2)) == set()
        with pytest.raises(pauses.NotPaused):
            await pauses.end_pause(session, anna, NOW + timedelta(days=2))
        assert await pauses.due_checkins(session, group_id, NOW + timedelta(weeks=30)) == []
