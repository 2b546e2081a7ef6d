"""The stand-in rules (bot/domain/away.py) with a fixed `now`: typed periods, local
midnights right across daylight saving, who gets a coordinator's message and who may act
as one, and what waits for the coordinator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain import away, people
from storage.db import Database
from storage.models import Person

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=CPH).astimezone(UTC)
COORDINATORS = (1001,)


def test_periods_are_read_like_every_date_in_the_bot():
    today = date(2026, 12, 4)
    assert away.parse_period("20.12", "3.1", today) == (date(2026, 12, 20), date(2027, 1, 3))
    assert away.parse_period("2026-12-20", "3/1/2027", today) == (
        date(2026, 12, 20),
        date(2027, 1, 3),
    )
    assert away.parse_period("4.12", "4.12", today) == (date(2026, 12, 4), date(2026, 12, 4))
    assert away.parse_period("1.12.2026", "3.12.2026", today) is away.PeriodProblem.IN_THE_PAST
    assert away.parse_period("20.1", "10.1", today) is away.PeriodProblem.BACKWARDS
    assert away.parse_period("20.12", "next week", today) is away.PeriodProblem.UNREADABLE
    assert away.parse_period("20.12", "1.1.2028", today) is away.PeriodProblem.TOO_LONG


async def _people(db: Database) -> tuple[int, int, int]:
    async with db.transaction() as session:
        group = await people.ensure_group(session, -1, NOW)
        mette = people.TelegramPerson(1001, "Mette", "mette", "da", is_coordinator=True)
        anna = people.TelegramPerson(2001, "Anna", "anna", "da")
        m = await people.record_member(session, group.id, mette, NOW, started_bot=True)
        a = await people.record_member(session, group.id, anna, NOW, started_bot=True)
        return group.id, m.id, a.id


async def test_a_period_runs_from_local_midnight_to_local_midnight_across_dst(
    database: Database,
):
    group_id, mette, anna = await _people(database)
    # Summer time begins on Sunday 28 March 2027 (02:00 -> 03:00).
    async with database.transaction() as session:
        period = await away.set_away(
            session, group_id, mette, anna, (date(2027, 3, 20), date(2027, 4, 3)), CPH, NOW
        )
        assert period.starts_at == datetime(2027, 3, 19, 23, 0, tzinfo=UTC)  # 00:00 CET
        assert period.ends_at == datetime(2027, 4, 3, 22, 0, tzinfo=UTC)  # 00:00 CEST
        assert away.first_day(period, CPH) == date(2027, 3, 20)
        assert away.last_day(period, CPH) == date(2027, 4, 3)

    def local(day: int, month: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2027, month, day, hour, minute, tzinfo=CPH)

    async with database.transaction() as session:
        for moment, expected in (
            (local(19, 3, 23, 59), [1001]),
            (local(20, 3, 0, 0), [2001]),
            (local(28, 3, 3, 30), [2001]),
            (local(3, 4, 23, 59), [2001]),
            (local(4, 4, 0, 0), [1001]),
        ):
            got = await away.recipients_for_coordinator_messages(
                session, group_id, COORDINATORS, moment
            )
            assert got == expected, moment
            acts = await away.can_act_as_coordinator(session, group_id, 2001, COORDINATORS, moment)
            assert acts is (expected == [2001]), moment
            # The coordinator always keeps every right.
            assert await away.can_act_as_coordinator(session, group_id, 1001, COORDINATORS, moment)


async def test_autumn_and_an_early_end(database: Database):
    group_id, mette, anna = await _people(database)
    # Winter time begins on Sunday 31 October 2027 (03:00 -> 02:00).
    async with database.transaction() as session:
        period = await away.set_away(
            session, group_id, mette, anna, (date(2027, 10, 25), date(2027, 10, 31)), CPH, NOW
        )
        assert period.ends_at == datetime(2027, 10, 31, 23, 0, tzinfo=UTC)  # 00:00 CET
        try:
            await away.set_away(
                session, group_id, mette, anna, (date(2027, 10, 26), date(2027, 10, 27)), CPH, NOW
            )
        except away.Overlaps:
            pass
        else:
            raise AssertionError("a second period while one is planned")
    during = datetime(2027, 10, 27, 12, 0, tzinfo=CPH)
    async with database.transaction() as session:
        found = await away.current_or_planned(session, group_id, mette, during)
        assert found is not None
        await away.end_early(session, found, during)
        assert away.last_day(found, CPH) == date(2027, 10, 27)
    async with database.transaction() as session:
        later = during + timedelta(minutes=1)
        assert await away.recipients_for_coordinator_messages(
            session, group_id, COORDINATORS, later
        ) == [1001]
        assert not await away.can_act_as_coordinator(session, group_id, 2001, COORDINATORS, later)


async def test_a_pause_that_waits_and_the_stand_ins_own_pause_go_to_the_coordinator_later(
    database: Database,
):
    from bot.domain import pause as pauses

    group_id, mette, anna = await _people(database)
    rhythm = pauses.Rhythm()
    async with database.transaction() as session:
        bo = await people.record_member(
            session, group_id, people.TelegramPerson(2002, "Bo", "bo", "da"), NOW, started_bot=True
        )
        period = await away.set_away(
            session, group_id, mette, anna, (date(2027, 3, 1), date(2027, 3, 7)), CPH, NOW
        )
        end = period.ends_at
        waits = await pauses.start_pause(
            session,
            group_id,
            bo.id,
            NOW,
            until_day=None,
            wants_cover=False,
            rhythm=rhythm,
            tz=CPH,
            notify=COORDINATORS,
            wait_for_coordinator=True,
        )
        own = await pauses.start_pause(
            session,
            group_id,
            anna,
            NOW,
            until_day=None,
            wants_cover=False,
            rhythm=rhythm,
            tz=CPH,
            notify=COORDINATORS,
        )
        for pause in (waits, own):
            [to] = await away.route(session, group_id, COORDINATORS, NOW, pause_id=pause.id)
            assert (to.telegram_user_id, to.due_at, to.stand_in) == (1001, end, False)
        [plain] = await away.route(session, group_id, COORDINATORS, NOW)
        assert (plain.telegram_user_id, plain.stand_in) == (2001, True)


async def test_after_the_period_the_stand_ins_messages_go_to_the_coordinator_for_a_while(
    database: Database,
):
    group_id, mette, anna = await _people(database)
    async with database.transaction() as session:
        period = await away.set_away(
            session, group_id, mette, anna, (date(2027, 3, 1), date(2027, 3, 7)), CPH, NOW
        )
        stand_in = await session.get(Person, anna)
        coordinator = await session.get(Person, mette)
        assert stand_in is not None and coordinator is not None
        during = datetime(2027, 3, 5, 12, 0, tzinfo=CPH)
        after = datetime(2027, 3, 9, 12, 0, tzinfo=CPH)
        # During the period the stand-in reads it, and has no "the coordinator is back".
        assert await away.reader(session, group_id, stand_in, COORDINATORS, during, during) is (
            stand_in
        )
        assert await away.stood_in_lately(session, group_id, 2001, during) is None
        # After it, what was promised to the stand-in goes to the coordinator.
        lately = await away.stood_in_lately(session, group_id, 2001, after)
        assert lately is not None and lately.id == period.id
        assert await away.reader(session, group_id, stand_in, COORDINATORS, after, after) is (
            coordinator
        )
        # The coordinator always reads their own; someone else stays nobody's.
        assert await away.reader(session, group_id, coordinator, COORDINATORS, after, after) is (
            coordinator
        )
        assert await away.reader(session, group_id, stand_in, (), after, after) is None
        # Long after, a late tap is simply "only the coordinator" again.
        much_later = after + away.LATE_TAPS
        assert await away.stood_in_lately(session, group_id, 2001, much_later) is None
        assert away.effective_end(period) < after - timedelta(days=1)
