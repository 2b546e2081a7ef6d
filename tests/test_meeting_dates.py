"""Candidate dates, the poll's opening, reminder moments and the winner: pure rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import meeting_dates as d

CPH = ZoneInfo("Europe/Copenhagen")
TUE_WED_THU = d.parse_slots("tue 17:00, wed 17:00, thu 16:30")
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CPH)


def days(moments: list[datetime]) -> list[date]:
    return [m.astimezone(CPH).date() for m in moments]


def test_every_slot_of_the_month_stays_inside_the_month():
    moments = d.all_slot_moments(2026, 12, TUE_WED_THU, CPH, LONG_AGO)
    assert days(moments)[0] == date(2026, 12, 1)  # a Tuesday
    assert days(moments)[-1] == date(2026, 12, 30)  # 31 December is kept for family
    assert all(m.astimezone(CPH).month == 12 for m in moments)
    assert len(moments) == 13  # five of each weekday, but not 24 and 31 December


def test_candidates_are_spread_over_the_month_and_in_local_time():
    picked = d.candidate_dates(2026, 12, TUE_WED_THU, 4, CPH, LONG_AGO)
    assert [m.astimezone(CPH) for m in picked] == [
        local(2026, 12, 1, 17, 0),
        local(2026, 12, 9, 17, 0),
        local(2026, 12, 17, 16, 30),
        local(2026, 12, 30, 17, 0),
    ]


def test_public_holidays_are_skipped():
    april = days(d.all_slot_moments(2026, 4, d.parse_slots("thu 16:30"), CPH, LONG_AGO))
    assert date(2026, 4, 2) not in april  # skærtorsdag
    assert date(2026, 4, 9) in april
    may = days(d.all_slot_moments(2026, 5, d.parse_slots("thu 16:30"), CPH, LONG_AGO))
    assert date(2026, 5, 14) not in may  # Kristi himmelfartsdag
    january = days(d.all_slot_moments(2027, 1, d.parse_slots("fri 16:00"), CPH, LONG_AGO))
    assert date(2027, 1, 1) not in january  # nytårsdag
    assert january[0] == date(2027, 1, 8)
    december = days(d.all_slot_moments(2026, 12, d.parse_slots("fri 16:00"), CPH, LONG_AGO))
    assert date(2026, 12, 25) not in december  # juledag
    assert date(2026, 12, 31) not in days(
        d.all_slot_moments(2026, 12, d.parse_slots("thu 16:30"), CPH, LONG_AGO)
    )  # nytårsaftensdag: kept for family, though no public holiday


def test_the_past_is_skipped():
    now = local(2026, 12, 9, 17, 30)
    moments = d.all_slot_moments(2026, 12, TUE_WED_THU, CPH, now)
    assert days(moments)[0] == date(2026, 12, 10)
    assert d.candidate_dates(2026, 11, TUE_WED_THU, 4, CPH, local(2026, 12, 1, 9, 0)) == []


def test_spring_forward_keeps_the_local_time():
    # Summer time starts on the last Sunday of March (28 March 2027).
    moments = d.all_slot_moments(2027, 3, d.parse_slots("tue 17:00"), CPH, LONG_AGO)
    before, after = moments[-2], moments[-1]
    assert before == datetime(2027, 3, 23, 16, 0, tzinfo=UTC)  # CET, UTC+1
    assert after == datetime(2027, 3, 30, 15, 0, tzinfo=UTC)  # CEST, UTC+2
    assert {m.astimezone(CPH).time() for m in moments} == {time(17, 0)}


def test_fall_back_keeps_the_local_time():
    # Summer time ends on the last Sunday of October (25 October 2026).
    moments = d.all_slot_moments(2026, 10, d.parse_slots("tue 17:00"), CPH, LONG_AGO)
    assert moments[-2] == datetime(2026, 10, 20, 15, 0, tzinfo=UTC)
    assert moments[-1] == datetime(2026, 10, 27, 16, 0, tzinfo=UTC)


def test_reminders_across_both_daylight_saving_changes():
    day_before, two_hours = d.parse_leads("1d@10:00, 2h")
    autumn = local(2026, 10, 26, 17, 0)  # Monday after the change back to CET
    assert d.reminder_moment(autumn, day_before, CPH) == local(2026, 10, 25, 10, 0)
    assert d.reminder_moment(autumn, day_before, CPH) == datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
    assert d.reminder_moment(autumn, two_hours, CPH) == datetime(2026, 10, 26, 14, 0, tzinfo=UTC)
    spring = local(2026, 3, 30, 17, 0)  # Monday after the change to CEST
    assert d.reminder_moment(spring, day_before, CPH) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


def test_the_poll_opens_in_the_month_before_across_the_year_end():
    opening = d.parse_poll_opening("15 10:00")
    assert d.poll_opening_for(2027, 1, opening, CPH) == local(2026, 12, 15, 10, 0)
    assert d.poll_opening_for(2026, 4, opening, CPH) == local(2026, 3, 15, 10, 0)
    # The month is the local one: 00:30 on 1 December in Copenhagen is still November in UTC.
    assert d.upcoming_poll_month(local(2026, 12, 1, 0, 30), CPH) == (2027, 1)
    assert d.upcoming_poll_month(local(2026, 11, 30, 23, 30), CPH) == (2026, 12)


def test_the_winner_has_most_yes_and_a_tie_goes_to_the_earlier_date():
    a, b, c = local(2026, 12, 1, 17), local(2026, 12, 9, 17), local(2026, 12, 17, 16, 30)
    assert d.winner([(a, 1), (b, 3), (c, 2)]) == b
    assert d.winner([(c, 2), (b, 2), (a, 0)]) == b
    assert d.winner([(a, 0), (b, 0)]) is None


def test_spread_picks_first_and_last():
    moments = [LONG_AGO + timedelta(days=i) for i in range(13)]
    assert d.spread(moments, 4) == [moments[0], moments[4], moments[8], moments[12]]
    assert d.spread(moments[:3], 4) == moments[:3]


def test_parsing_what_the_coordinator_types():
    assert [str(s) for s in d.parse_slots("tir 17.00, Onsdag 17:00")] == ["tue 17:00", "wed 17:00"]
    leads = d.parse_leads("1d@10:00, 2h, 30m, 2d")
    assert [str(x) for x in leads] == ["1d@10:00", "2h", "30m", "2d"]
    assert d.parse_dates("2026-12-09 17:00, 2026-12-10 16:30", CPH) == [
        local(2026, 12, 9, 17, 0),
        local(2026, 12, 10, 16, 30),
    ]
    for bad in ("9/12 17:00", "2026-12-09", "2026-13-01 17:00", "2026-12-09 25:00"):
        with pytest.raises(ValueError):
            d.parse_dates(bad, CPH)
    for bad in ("tuesday", "xyz 17:00", ""):
        with pytest.raises(ValueError):
            d.parse_slots(bad)
    with pytest.raises(ValueError):
        d.parse_poll_opening("31 10:00")
    with pytest.raises(ValueError):
        d.parse_leads("soon")


def test_a_wrong_meeting_default_in_env_is_reported_by_key():
    from bot.config import load_settings

    settings, problems = load_settings(_env_file=None, meeting_reminders="soon")
    assert settings is None
    assert problems == ["MEETING_REMINDERS: not understood: 'soon' (e.g. 1d@10:00, 2h)"]
    settings, problems = load_settings(_env_file=None)
    assert problems == [] and settings is not None
    assert d.parse_slots(settings.meeting_candidate_slots)  # the shipped default parses
