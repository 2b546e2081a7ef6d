"""Cover by suggestion, the rules alone: the order of the suggestions when nobody has a
free hour, and an ask that is answered or expires exactly once."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from sqlalchemy import select

from bot.domain import matches
from bot.domain.matches import asks
from storage.db import Database
from storage.models import Match, Pause
from storage.models.outbox import OutboxItem
from tests.test_matches_domain import CPH, NOW, setup_group, tuesday_match


@pytest.fixture
def db(database: Database) -> Database:
    return database


async def match_at(session, group_id: int, label: str, person: int, weekday: int, hour: int):
    return await matches.create_match(
        session,
        group_id,
        kind="match",
        label=label,
        volunteer_ids=[person],
        plan=matches.Plan(matches.WEEKLY, weekday=weekday, at=time(hour, 0)),
        place=None,
        now=NOW,
        tz=CPH,
    )


async def anna_paused(db: Database, group_id: int, anna: int) -> tuple[Match, int]:
    async with db.transaction() as session:
        match = await tuesday_match(session, group_id, [anna])
        pause = Pause(group_id=group_id, person_id=anna, started_at=NOW, wants_cover=True)
        session.add(pause)
        await session.flush()
        return match, pause.id


async def test_when_everyone_meets_someone_at_that_hour_the_fewest_matches_come_first(
    db: Database,
):
    group_id, (anna, bo, dennis) = await setup_group(db)
    async with db.transaction() as session:
        # Bo: two matches, one of them on Tuesdays at 10. Dennis: one, also then.
        await match_at(session, group_id, "A.B.", bo, 1, 10)
        await match_at(session, group_id, "C.D.", bo, 3, 14)
        await match_at(session, group_id, "E.F.", dennis, 1, 10)
    match, pause_id = await anna_paused(db, group_id, anna)
    async with db.transaction() as session:
        found = await asks.suggestions(session, group_id, match, pause_id, NOW)
        assert [(s.person.first_name, s.clash, s.matches) for s in found] == [
            ("Dennis", True, 1),
            ("Bo", True, 2),
        ]
        assert await asks.suggestions(session, group_id, match, pause_id, NOW, limit=1) == [
            found[0]
        ]


async def test_an_ask_is_answered_once_and_expires_once(db: Database):
    group_id, (anna, bo, dennis) = await setup_group(db)
    match, pause_id = await anna_paused(db, group_id, anna)
    async with db.transaction() as session:
        first = await asks.ask(session, group_id, match.id, dennis, bo, NOW)
        assert not isinstance(first, asks.AskProblem)
        assert await asks.ask(session, group_id, match.id, bo, None, NOW) is asks.AskProblem.WAITING
    async with db.transaction() as session:
        no = await asks.answer(session, first.id, False, NOW + timedelta(hours=1), CPH)
        assert isinstance(no, asks.Answer) and no.ask.state == asks.NO
        again = await asks.answer(session, first.id, True, NOW + timedelta(hours=2), CPH)
        assert again is asks.AnswerProblem.ANSWERED
        # Dennis said no: he is not suggested again during this pause.
        found = await asks.suggestions(session, group_id, match, pause_id, NOW)
        assert [s.person.first_name for s in found] == ["Bo"]
        second = await asks.ask(session, group_id, match.id, bo, None, NOW)
        assert not isinstance(second, asks.AskProblem)
    later = NOW + asks.ANSWER_WITHIN
    async with db.transaction() as session:
        assert await asks.expire_due(session, group_id, later - timedelta(seconds=1)) == 0
        assert await asks.expire_due(session, group_id, later) == 1
        assert await asks.expire_due(session, group_id, later + timedelta(hours=1)) == 0
        late = await asks.answer(session, second.id, True, later, CPH)
        assert late is asks.AnswerProblem.TOO_LATE
        told = await session.scalars(
            select(OutboxItem.kind).where(
                OutboxItem.subject_id.in_([first.id, second.id]), OutboxItem.kind.in_(asks.KINDS)
            )
        )
        # Dennis's question and the no to the one who asked (Bo here); Bo's question alone
        # (nobody asked through the bot).
        assert sorted(told) == [asks.ANSWERED, asks.ASK, asks.ASK]
