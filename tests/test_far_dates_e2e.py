"""A date typed years ahead is a typing mistake, not a plan: every feature that takes a
typed date refuses one more than two years on, says until when, and writes nothing.

(/setmeeting is tried in test_meeting_e2e, a volunteer's own pause in test_pause_e2e.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from bot.sandbox import GROUP_CHAT_ID, Cast, Sandbox
from storage.models import Match, MatchOccurrence, Pause
from storage.models.away import CoordinatorAway

# The sandbox's today is Monday 30 November 2026: two years on is 30.11.2028.
LAST = "30.11.2028"


async def count(box: Sandbox, model: Any) -> int:
    async with box.services.db.transaction() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_match_years_ahead_is_refused_with_the_last_allowed_day(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await box.say(user, "/start")
    for typed in (
        '/match @anna "K.L." once 9.12.2062 10:00',
        '/match @anna "K.L." weekly tue 10:00 from 1.1.2062',
        '/match @anna "K.L." weekly tue 10:00 until 31.12.9999',
    ):
        await box.say(mette, typed)
        answer = box.last_text_to(mette.id)
        assert "for langt ude" in answer and LAST in answer, typed
    assert await count(box, Match) == 0


async def test_a_meeting_moved_years_ahead_is_refused_and_the_question_stays(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await box.say(user, "/start")
    await box.say(mette, '/match @anna "K.L." weekly tue 10:00')
    await box.say(anna, "/meetings")
    menu = box.fake.last_message_to(anna.id)
    assert menu is not None
    move = next(
        b["callback_data"] for b in menu.buttons if b["callback_data"].startswith("matches:mv:")
    )
    await box.tap(anna, menu, move)
    async with box.services.db.transaction() as session:
        before = sorted(await session.scalars(select(MatchOccurrence.starts_at)))

    await box.say(anna, "9.12.2062 10.00")
    answer = box.last_text_to(anna.id)
    assert "for langt ude" in answer and LAST in answer
    async with box.services.db.transaction() as session:
        assert sorted(await session.scalars(select(MatchOccurrence.starts_at))) == before
    # The question is still open: a date within reach moves the meeting.
    await box.say(anna, "10.12.2026 14.00")
    assert "10. december kl. 14.00" in box.last_text_to(anna.id)


async def test_a_time_away_years_ahead_is_refused_with_the_last_allowed_day(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await box.say(user, "/start")
    await box.say(mette, "/away 1.1.2062 5.1.2062 @anna")
    answer = box.last_text_to(mette.id)
    assert LAST in answer
    assert await count(box, CoordinatorAway) == 0


async def test_a_pause_set_years_ahead_by_the_coordinator_says_until_when(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette, anna = cast.coordinator, cast.volunteers[0]
    for user in (mette, anna):
        await box.say(user, "/start")
    await box.say(mette, "/pausevolunteer @anna until 9.12.2062")
    answer = box.last_text_to(mette.id)
    assert "mere end to år" in answer and LAST in answer
    assert await count(box, Pause) == 0


async def test_a_poll_date_in_the_past_or_years_ahead_is_refused_with_the_range(
    group: tuple[Sandbox, Cast],
):
    box, cast = group
    mette = cast.coordinator
    await box.say(mette, "/start")
    for typed, passed in (("1.12.2025 17:00, 9.12.2026 17:00", True), ("9.12.2062 17:00", False)):
        await box.say(mette, f"/meetingpoll {typed}")
        answer = box.last_text_to(mette.id)
        assert "til og med torsdag 30. november 2028" in answer, typed
        assert ("allerede passeret" in answer) is passed, typed
    assert not [m for m in box.fake.messages_to(GROUP_CHAT_ID) if m.poll]
