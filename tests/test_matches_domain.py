"""Matches: the occurrence maths (DST) and the domain rules, on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import matches, outbox, people
from bot.domain.schedule import (
    BIWEEKLY,
    DAY_BEFORE,
    HOURS_BEFORE,
    WEEKLY,
    local_to_utc,
    reminder_due,
    rhythm_dates,
)
from storage.db import Database
from storage.models import Match, MatchOccurrence, Pause, ReminderDelivery
from storage.models.outbox import OutboxItem

CPH = ZoneInfo("Europe/Copenhagen")
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=CPH).astimezone(UTC)  # Monday morning


def test_weekly_1800_stays_at_1800_local_across_both_dst_changes():
    # Thursdays from early March to mid November 2027: both last Sundays are crossed.
    days = list(
        rhythm_dates(
            WEEKLY, 3, date(2027, 3, 1), after=date(2027, 3, 1), through=date(2027, 11, 15)
        )
    )
    starts = [local_to_utc(d, time(18, 0), CPH) for d in days]
    assert {s.astimezone(CPH).time() for s in starts} == {time(18, 0)}
    # In UTC the meeting moves: 17:00 in winter, 16:00 in summer.
    assert {s.hour for s in starts} == {16, 17}
    march = [s for s in starts if s.date() in (date(2027, 3, 25), date(2027, 4, 1))]
    assert [s.hour for s in march] == [17, 16]
    october = [s for s in starts if s.date() in (date(2027, 10, 28), date(2027, 11, 4))]
    assert [s.hour for s in october] == [16, 17]


def test_reminder_two_hours_before_is_1600_local_both_sides_of_dst():
    for day in (date(2027, 3, 27), date(2027, 3, 29), date(2027, 10, 30), date(2027, 11, 1)):
        starts = local_to_utc(day, time(18, 0), CPH)
        due = reminder_due(HOURS_BEFORE, day, starts, CPH)
        assert due.astimezone(CPH).time() == time(16, 0)
        day_before = reminder_due(DAY_BEFORE, day, starts, CPH, day_before_hour=18)
        assert day_before.astimezone(CPH) == datetime.combine(
            day - timedelta(days=1), time(18, 0), tzinfo=CPH
        )


def test_biweekly_counts_from_the_first_meeting_and_respects_the_end():
    days = list(
        rhythm_dates(
            BIWEEKLY,
            3,
            date(2026, 12, 1),
            after=date(2026, 12, 10),
            through=date(2027, 3, 1),
            end=date(2027, 1, 31),
        )
    )
    assert days == [date(2026, 12, 17), date(2026, 12, 31), date(2027, 1, 14), date(2027, 1, 28)]


def test_a_time_skipped_by_the_spring_change_moves_an_hour_on():
    assert local_to_utc(date(2027, 3, 28), time(2, 30), CPH).astimezone(CPH).hour == 3


def test_full_names_are_refused_as_citizen_labels():
    assert matches.looks_like_full_name("Karen Larsen")
    spellings = ("karen larsen", "KAREN LARSEN", "Karen_Larsen", "Karen-Larsen", "karen.larsen")
    for spelling in spellings:
        assert matches.looks_like_full_name(spelling), spelling
    assert not matches.looks_like_full_name("K.L.")
    assert not matches.looks_like_full_name("Søren")
    with pytest.raises(matches.MatchError, match="label_full_name"):
        matches.check_label("Karen Larsen", "match")
    with pytest.raises(matches.MatchError, match="label_too_long"):
        matches.check_label("x" * 21, "match")
    assert matches.check_label("Café Backstage", "activity") == "Café Backstage"


@pytest.fixture
def db(database: Database) -> Database:
    """The shared migrated database (tests/conftest.py), under this module's short name."""
    return database


async def setup_group(db: Database) -> tuple[int, list[int]]:
    async with db.transaction() as session:
        group = await people.ensure_group(session, -1, NOW)
        ids = []
        for uid, name in ((1, "Anna"), (2, "Bo"), (3, "Dennis")):
            who = people.TelegramPerson(uid, name, name.lower(), "da")
            person = await people.record_member(session, group.id, who, NOW, started_bot=True)
            ids.append(person.id)
        return group.id, ids


async def tuesday_match(session: AsyncSession, group_id: int, volunteer_ids: list[int]) -> Match:
    """The match most tests need: "K.L.", every Tuesday at 10:00, no place."""
    return await matches.create_match(
        session,
        group_id,
        kind="match",
        label="K.L.",
        volunteer_ids=volunteer_ids,
        plan=matches.Plan(WEEKLY, weekday=1, at=time(10, 0)),
        place=None,
        now=NOW,
        tz=CPH,
    )


async def test_matches_for_person_lists_next_meetings_within_the_horizon(db: Database):
    group_id, (anna, bo, dennis) = await setup_group(db)
    async with db.transaction() as session:
        match = await tuesday_match(session, group_id, [anna, bo])
    async with db.transaction() as session:
        found = await matches.matches_for_person(session, group_id, anna, NOW)
        assert await matches.matches_for_person(session, group_id, dennis, NOW) == []
    [item] = found
    assert (item.match_id, item.label, item.kind) == (match.id, "K.L.", "match")
    assert [s.astimezone(CPH) for s in item.next_starts] == [
        datetime(2026, 12, d, 10, 0, tzinfo=CPH) for d in (1, 8, 15, 22)
    ]


async def test_planning_and_arming_twice_adds_nothing(db: Database):
    group_id, (anna, bo, _) = await setup_group(db)
    async with db.transaction() as session:
        await tuesday_match(session, group_id, [anna, bo])
    async with db.transaction() as session:
        count = await session.scalar(select(func.count()).select_from(ReminderDelivery))
        assert count == 8 * 2 * 2  # 8 Tuesdays in the horizon, 2 people, 2 leads
        assert await matches.plan_occurrences(session, group_id, NOW, CPH) == 0
        assert await matches.arm_reminders(session, group_id, NOW, CPH) == 0
    # A day later one more week comes into the horizon, and only its reminders are made.
    later = NOW + timedelta(days=1)
    async with db.transaction() as session:
        assert await matches.plan_occurrences(session, group_id, later, CPH) == 1
        assert await matches.arm_reminders(session, group_id, later, CPH) == 4


async def test_reminders_are_promised_in_the_outbox_sent_once_and_skipped_late(db: Database):
    group_id, (anna, bo, _) = await setup_group(db)
    async with db.transaction() as session:
        await tuesday_match(session, group_id, [anna, bo])
    async with db.transaction() as session:
        rows = await session.scalar(select(func.count()).select_from(ReminderDelivery))
        promised = await session.scalar(
            select(func.count())
            .select_from(OutboxItem)
            .where(OutboxItem.kind == matches.REMINDER_KIND)
        )
        assert rows == promised == 8 * 2 * 2  # each reminder row promised once
        await matches.arm_reminders(session, group_id, NOW, CPH)  # nothing new: no more
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) == promised
    grace = timedelta(minutes=120)
    day_before = datetime(2026, 11, 30, 18, 0, tzinfo=CPH)
    kinds = frozenset({matches.REMINDER_KIND})
    async with db.transaction() as session:
        claim = await outbox.claim_next(session, group_id, day_before, "first", kinds)
        assert claim is not None and claim.person_id == anna
        due = await matches.due_reminder(
            session, group_id, claim.subject_id, claim.person_id, day_before, grace
        )
        assert due is not None and due.lead == DAY_BEFORE and due.co_volunteers == ("Bo",)
    # The bot died before Telegram answered: the next process takes the claim over.
    async with db.transaction() as session:
        again = await outbox.claim_next(session, group_id, day_before, "second", kinds)
        assert again is not None and again.item_id == claim.item_id and again.retried
        assert await matches.due_reminder(
            session, group_id, again.subject_id, again.person_id, day_before, grace
        )
        await matches.record_reminder_outcome(session, again.subject_id, "sent")
    # Telegram answered: a second promise of the same row is not wanted.
    async with db.transaction() as session:
        assert not await matches.due_reminder(
            session, group_id, claim.subject_id, anna, day_before, grace
        )
    # Found after the meeting began (say, held by a pause until then): skipped, never sent.
    late = datetime(2026, 12, 1, 10, 5, tzinfo=CPH)
    async with db.transaction() as session:
        hours_before = await session.scalar(
            select(ReminderDelivery)
            .where(ReminderDelivery.lead == HOURS_BEFORE, ReminderDelivery.person_id == bo)
            .order_by(ReminderDelivery.due_at)
            .limit(1)
        )
        assert hours_before is not None
        assert not await matches.due_reminder(session, group_id, hours_before.id, bo, late, grace)
        assert hours_before.state == "skipped" and hours_before.outcome == "passed"


async def test_cover_needs_a_paused_volunteer_and_ends_with_the_pause(db: Database):
    group_id, (anna, _bo, dennis) = await setup_group(db)
    async with db.transaction() as session:
        match = await tuesday_match(session, group_id, [anna])
        with pytest.raises(matches.MatchError, match="nobody_paused"):
            await matches.add_cover(session, group_id, match.id, dennis, NOW, CPH)
    async with db.transaction() as session:
        pause = Pause(group_id=group_id, person_id=anna, started_at=NOW, wants_cover=True)
        session.add(pause)
    async with db.transaction() as session:
        [view] = await matches.overview(session, group_id, NOW)
        assert view.needs_cover
        cover = await matches.add_cover(session, group_id, match.id, dennis, NOW, CPH)
        assert cover.paused.id == anna
    async with db.transaction() as session:
        [view] = await matches.overview(session, group_id, NOW)
        assert not view.needs_cover
        ended = await matches.end_covers_for_pause(session, group_id, pause.id, NOW)
        assert [(m.id, p.id) for m, p in ended] == [(match.id, dennis)]


async def test_rhythm_change_replaces_future_meetings(db: Database):
    group_id, (anna, _bo, _dennis) = await setup_group(db)
    async with db.transaction() as session:
        match = await tuesday_match(session, group_id, [anna])
        await matches.change_rhythm(
            session,
            group_id,
            match.id,
            anna,
            matches.Plan(BIWEEKLY, weekday=3, at=time(14, 0)),
            NOW,
            CPH,
        )
    async with db.transaction() as session:
        starts = list(
            await session.scalars(
                select(MatchOccurrence.starts_at).order_by(MatchOccurrence.starts_at).limit(3)
            )
        )
    assert [s.astimezone(CPH) for s in starts] == [
        datetime(2026, 12, d, 14, 0, tzinfo=CPH) for d in (3, 17, 31)
    ]


async def test_digest_lists_long_waits_and_cancelled_streaks(db: Database):
    group_id, (anna, bo, dennis) = await setup_group(db)
    async with db.transaction() as session:
        match = await tuesday_match(session, group_id, [anna])
        for occurrence in await matches.next_occurrences(session, match.id, NOW, limit=3):
            await matches.cancel_occurrence(session, group_id, occurrence.id, anna, NOW)
    later = NOW + timedelta(weeks=7)
    async with db.transaction() as session:
        result = await matches.digest(
            session, group_id, later, unmatched_weeks=6, cancelled_streak=3
        )
    assert sorted(p.id for p, _ in result.waiting) == [bo, dennis]
    assert result.cancelled_in_a_row == []  # four later meetings took place
    async with db.transaction() as session:
        three_weeks = NOW + timedelta(days=3)  # one cancelled behind, two cancelled ahead
        result = await matches.digest(
            session, group_id, three_weeks, unmatched_weeks=6, cancelled_streak=3
        )
    assert [m.id for m, _ in result.cancelled_in_a_row] == [match.id]


# Reading the one-line form ------------------------------------------------------------------


def test_one_line_match_with_two_volunteers_place_and_start():
    from handlers.matches_create import parse_line

    request = parse_line(
        '@anna @bo “K.L.” biweekly tor 14.30 place "Café X" from 1.12', "match", date(2026, 11, 30)
    )
    assert request.usernames == ["@anna", "@bo"]
    assert (request.label, request.rhythm, request.weekday, request.at) == (
        "K.L.",
        BIWEEKLY,
        3,
        time(14, 30),
    )
    assert (request.place, request.start) == ("Café X", date(2026, 12, 1))


def test_one_line_single_date_and_activity_season():
    from handlers.matches_create import parse_line

    once = parse_line('@anna "K.L." once 2026-12-09 10:00', "match", date(2026, 11, 30))
    assert (once.rhythm, once.dates) == ("dates", [(date(2026, 12, 9), time(10, 0))])
    activity = parse_line(
        '"Recovery-café" biweekly thu 14:00 until 2027-03-31 @anna @bo @camilla',
        "activity",
        date(2026, 11, 30),
    )
    assert activity.end == date(2027, 3, 31) and len(activity.usernames) == 3


def test_one_line_mistakes_have_codes_for_kind_messages():
    from handlers.matches_create import ParseError, parse_line

    cases = {
        '"K.L." weekly tue 10:00': "no_volunteers",
        "@anna weekly tue 10:00": "label_missing",
        '@anna "K.L." weekly someday 10:00': "rhythm_incomplete",
        '@anna "K.L." weekly tue': "rhythm_incomplete",
        '@anna "K.L."': "rhythm_incomplete",
        '@anna "K.L." weekly tue 10:00 banana': "unknown_word",
    }
    for line, code in cases.items():
        with pytest.raises(ParseError) as caught:
            parse_line(line, "match", date(2026, 11, 30))
        assert caught.value.code == code, line


def test_dates_and_times_people_type():
    from handlers.matches_common import parse_date, parse_time

    today = date(2026, 11, 30)
    assert parse_date("9.12", today) == date(2026, 12, 9)
    assert parse_date("3/1", today) == date(2027, 1, 3)  # already passed this year
    assert parse_date("31.3.2027", today) == date(2027, 3, 31)
    assert parse_date("32.1", today) is None
    assert parse_time("kl. 9") == time(9, 0) and parse_time("18.30") == time(18, 30)
    assert parse_time("25:00") is None


def test_long_overviews_are_split_between_paragraphs():
    from handlers.delivery import MAX_MESSAGE, split_text, utf16_len

    # Each match a paragraph, with an emoji (two UTF-16 units, as Telegram counts).
    paragraphs = [f"• M{i} 🌿\n  hver tirsdag kl. 10.00\n  " + "x" * 200 for i in range(60)]
    chunks = split_text("\n\n".join(paragraphs))
    assert len(chunks) > 1 and all(utf16_len(c) <= MAX_MESSAGE for c in chunks)
    assert "\n\n".join(chunks) == "\n\n".join(paragraphs)  # nothing lost, no match cut
    assert all(c.startswith("• M") for c in chunks)
    assert split_text("kort") == ["kort"]


async def test_overview_keeps_only_the_next_three_meetings_of_each_match(db: Database):
    group_id, (anna, bo, _dennis) = await setup_group(db)
    dates = tuple((date(2026, 12, day), time(14, 0)) for day in (9, 2, 23, 16, 30))
    async with db.transaction() as session:
        weekly = await matches.create_match(
            session,
            group_id,
            kind="match",
            label="K.L.",
            volunteer_ids=[anna],
            plan=matches.Plan(WEEKLY, weekday=0, at=time(8, 0)),  # today 08:00 has passed
            place=None,
            now=NOW,
            tz=CPH,
        )
        single = await matches.create_match(
            session,
            group_id,
            kind="activity",
            label="Café",
            volunteer_ids=[bo],
            plan=matches.Plan(matches.DATES, dates=dates),
            place=None,
            now=NOW,
            tz=CPH,
        )
        ended = await matches.create_match(
            session,
            group_id,
            kind="match",
            label="J.P.",
            volunteer_ids=[bo],
            plan=matches.Plan(WEEKLY, weekday=2, at=time(10, 0)),
            place=None,
            now=NOW,
            tz=CPH,
        )
        await matches.end_match(session, group_id, ended.id, NOW)
    async with db.transaction() as session:
        views = {v.match.id: v for v in await matches.overview(session, group_id, NOW)}
    assert set(views) == {weekly.id, single.id}
    assert [o.starts_at.astimezone(CPH).date() for o in views[single.id].next] == [
        date(2026, 12, 2),
        date(2026, 12, 9),
        date(2026, 12, 16),
    ]
    assert [o.starts_at.astimezone(CPH).date() for o in views[weekly.id].next] == [
        date(2026, 12, 7),
        date(2026, 12, 14),
        date(2026, 12, 21),
    ]
