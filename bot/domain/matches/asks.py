"""Cover by suggestion: who could take over a match while one of its volunteers is on a
pause, and the private question to the one the coordinator picks.

The coordinator's notice about a pause suggests volunteers (`suggestions`): members who are
not on a pause and not on the match, who can be written to, who have room (no meeting on
that weekday and hour, else the fewest matches), waiting longest for a match first. One tap
`ask`s one of them: a `CoverAsk` row naming the match, the pause and the person, and a
promised question (outbox kind `ASK`). The answer (`answer`) sets the cover (the existing
`add_cover`), or not; no answer within `ANSWER_WITHIN` expires the ask (`expire_due`, a
scheduler pass). Either way the coordinator who asked is promised one line (`ANSWERED`),
and on yes the other volunteers on the match are told someone joins for a while
(`PARTNER`). Nothing here says why anyone is away: no reason is ever stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import outbox, people
from bot.domain.matches.core import REGULAR, TEMPORARY, MatchError
from bot.domain.matches.covers import Cover, add_cover
from storage.changes import changed
from storage.models import CoverAsk, Match, MatchOccurrence, MatchVolunteer, Pause, Person

# What asking promises to send (outbox kinds): the question to the volunteer...
ASK = "cover_ask"
# ...the coordinator's one line when it is answered, expired or could not be asked...
ANSWERED = "cover_answered"
# ...and, on yes, a word to the other volunteers on the match.
PARTNER = "cover_partner"
KINDS = (ASK, ANSWERED, PARTNER)

ANSWER_WITHIN = timedelta(days=2)
SUGGESTIONS = 3

ASKED = "asked"
YES = "yes"
NO = "no"
EXPIRED = "expired"
UNREACHED = "unreached"  # the question could not be delivered
VOID = "void"  # no longer needed (the pause ended, the match ended, someone else took it)


class AskProblem(StrEnum):
    NOT_FOUND = "not_found"  # the match ended or is gone
    NOT_NEEDED = "not_needed"  # nobody on it is on a pause, or it has a temporary volunteer
    WAITING = "waiting"  # someone was asked and has not answered yet
    NOT_FREE = "not_free"  # the person left, is on a pause, or is on the match


class AnswerProblem(StrEnum):
    TOO_LATE = "too_late"  # expired (the coordinator has been told)
    ANSWERED = "answered"  # answered already
    NOT_NEEDED = "not_needed"  # sorted out meanwhile


@dataclass(frozen=True)
class Suggestion:
    person: Person
    clash: bool  # a meeting of their own on that weekday and hour
    matches: int  # running matches and activities they are on
    waiting_since: datetime  # since they last got (or left) a match, or joined


@dataclass(frozen=True)
class Answer:
    ask: CoverAsk
    cover: Cover | None = None


async def paused_regular(session: AsyncSession, match_id: int, now: datetime) -> Pause | None:
    """The running pause of a regular volunteer on the match, if any."""
    return await session.scalar(
        select(Pause)
        .join(MatchVolunteer, MatchVolunteer.person_id == Pause.person_id)
        .where(
            MatchVolunteer.match_id == match_id,
            MatchVolunteer.ended_at.is_(None),
            MatchVolunteer.role == REGULAR,
            people.active_pause_filter(now),
        )
        .order_by(Pause.started_at, Pause.id)
        .limit(1)
    )


async def _covered(session: AsyncSession, match_id: int, pause_id: int) -> bool:
    found = await session.scalar(
        select(MatchVolunteer.id).where(
            MatchVolunteer.match_id == match_id,
            MatchVolunteer.until_pause_id == pause_id,
            MatchVolunteer.ended_at.is_(None),
        )
    )
    return found is not None


async def uncovered_matches(session: AsyncSession, pause: Pause, now: datetime) -> list[Match]:
    """The paused volunteer's running matches with a citizen (not activities, which go on
    without them) that have no temporary volunteer for this pause yet."""
    if pause.ended_at is not None:
        return []
    rows = await session.scalars(
        select(Match)
        .join(MatchVolunteer, MatchVolunteer.match_id == Match.id)
        .where(
            MatchVolunteer.person_id == pause.person_id,
            MatchVolunteer.ended_at.is_(None),
            MatchVolunteer.role == REGULAR,
            Match.ended_at.is_(None),
            Match.kind == "match",
        )
        .order_by(Match.label, Match.id)
    )
    return [m for m in rows if not await _covered(session, m.id, pause.id)]


async def _slots(
    session: AsyncSession, match_ids: Collection[int], now: datetime
) -> dict[int, set[tuple[int, int]]]:
    """(local weekday, hour) of each match's meetings: its rhythm's, and those planned in
    the coming four weeks (single dates, moved meetings)."""
    slots: dict[int, set[tuple[int, int]]] = defaultdict(set)
    if not match_ids:
        return slots
    for match_id, weekday, at in await session.execute(
        select(Match.id, Match.weekday, Match.local_time).where(Match.id.in_(list(match_ids)))
    ):
        if weekday is not None and at is not None:
            slots[match_id].add((weekday, at.hour))
    for match_id, day, at in await session.execute(
        select(
            MatchOccurrence.match_id, MatchOccurrence.local_date, MatchOccurrence.local_time
        ).where(
            MatchOccurrence.match_id.in_(list(match_ids)),
            MatchOccurrence.starts_at > now,
            MatchOccurrence.starts_at <= now + timedelta(weeks=4),
            MatchOccurrence.status != "cancelled",
        )
    ):
        slots[match_id].add((day.weekday(), at.hour))
    return slots


async def suggestions(
    session: AsyncSession,
    group_id: int,
    match: Match,
    pause_id: int,
    now: datetime,
    *,
    coordinators: Collection[int] = (),
    limit: int = SUGGESTIONS,
) -> list[Suggestion]:
    """Who could take over `match` during the pause: volunteers in the group (not the
    `coordinators`, Telegram ids) who are not on a pause, not on the match, can be written
    to, and were not asked about it during this pause yet; those with room first (no
    meeting at that weekday and hour, then the fewest matches), waiting longest first."""
    paused = await people.paused_person_ids(session, group_id, now)
    on_match = set(
        await session.scalars(
            select(MatchVolunteer.person_id).where(
                MatchVolunteer.match_id == match.id, MatchVolunteer.ended_at.is_(None)
            )
        )
    )
    asked = set(
        await session.scalars(
            select(CoverAsk.person_id).where(
                CoverAsk.match_id == match.id, CoverAsk.pause_id == pause_id
            )
        )
    )
    candidates = [
        p
        for p in await people.volunteers(session, group_id)
        if p.id not in paused | on_match | asked
        and p.telegram_user_id not in coordinators
        and p.reachable
    ]
    if not candidates:
        return []
    ids = [p.id for p in candidates]
    theirs: dict[int, list[int]] = defaultdict(list)
    for person_id, match_id in await session.execute(
        select(MatchVolunteer.person_id, MatchVolunteer.match_id)
        .join(Match, Match.id == MatchVolunteer.match_id)
        .where(
            MatchVolunteer.person_id.in_(ids),
            MatchVolunteer.ended_at.is_(None),
            Match.ended_at.is_(None),
        )
    ):
        theirs[person_id].append(match_id)
    latest: dict[int, datetime] = {}
    for person_id, added, ended in await session.execute(
        select(
            MatchVolunteer.person_id,
            func.max(MatchVolunteer.added_at),
            func.max(MatchVolunteer.ended_at),
        )
        .where(MatchVolunteer.person_id.in_(ids))
        .group_by(MatchVolunteer.person_id)
    ):
        latest[person_id] = max(t for t in (added, ended) if t is not None)
    slots = await _slots(session, {match.id, *(m for ms in theirs.values() for m in ms)}, now)
    wanted = slots[match.id]
    found = [
        Suggestion(
            p,
            any(slots[m] & wanted for m in theirs[p.id]),
            len(theirs[p.id]),
            max(p.joined_at, latest.get(p.id, p.joined_at)),
        )
        for p in candidates
    ]
    found.sort(
        key=lambda s: (s.clash, s.matches, s.waiting_since, s.person.first_name, s.person.id)
    )
    return found[:limit]


async def open_ask(session: AsyncSession, match_id: int, now: datetime) -> CoverAsk | None:
    """An ask about this match still waiting for its answer."""
    return await session.scalar(
        select(CoverAsk).where(
            CoverAsk.match_id == match_id, CoverAsk.state == ASKED, CoverAsk.expires_at > now
        )
    )


async def ask(
    session: AsyncSession,
    group_id: int,
    match_id: int,
    person_id: int,
    asked_by: int | None,
    now: datetime,
) -> CoverAsk | AskProblem:
    """Ask one volunteer privately whether they will take the match's meetings during the
    pause (the question is promised now); or why not."""
    match = await session.get(Match, match_id)
    if match is None or match.group_id != group_id or match.ended_at is not None:
        return AskProblem.NOT_FOUND
    pause = await paused_regular(session, match.id, now)
    if pause is None or await _covered(session, match.id, pause.id):
        return AskProblem.NOT_NEEDED
    if await open_ask(session, match.id, now) is not None:
        return AskProblem.WAITING
    person = await people.member_by_id(session, group_id, person_id)
    on_match = await session.scalar(
        select(MatchVolunteer.id).where(
            MatchVolunteer.match_id == match.id,
            MatchVolunteer.person_id == person_id,
            MatchVolunteer.ended_at.is_(None),
        )
    )
    if (
        person is None
        or on_match is not None
        or await people.current_pause(session, person_id, now)
    ):
        return AskProblem.NOT_FREE
    row = CoverAsk(
        group_id=group_id,
        match_id=match.id,
        pause_id=pause.id,
        person_id=person_id,
        asked_by=asked_by,
        asked_at=now,
        expires_at=now + ANSWER_WITHIN,
        state=ASKED,
    )
    session.add(row)
    await session.flush()
    await outbox.enqueue(session, group_id, ASK, row.id, person_id, now)
    return row


async def still_needed(session: AsyncSession, row: CoverAsk, now: datetime) -> bool:
    """The pause runs, the match runs and nobody covers it for this pause yet."""
    pause = await session.get(Pause, row.pause_id)
    match = await session.get(Match, row.match_id)
    if pause is None or pause.ended_at is not None or match is None or match.ended_at:
        return False
    return not await _covered(session, row.match_id, row.pause_id)


async def _settle(session: AsyncSession, row: CoverAsk, state: str, now: datetime) -> bool:
    """Move an open ask to `state`, once (of two racing answers only one wins)."""
    done = await changed(
        session,
        CoverAsk,
        CoverAsk.id == row.id,
        CoverAsk.state == ASKED,
        values={"state": state, "answered_at": now},
    )
    if done == 1:
        await session.refresh(row)
    return done == 1


async def _tell_asker(session: AsyncSession, row: CoverAsk, now: datetime) -> None:
    if row.asked_by is not None:
        await outbox.enqueue(session, row.group_id, ANSWERED, row.id, row.asked_by, now)


async def answer(
    session: AsyncSession, ask_id: int, yes: bool, now: datetime, tz: ZoneInfo
) -> Answer | AnswerProblem:
    """The asked volunteer's answer: on yes the cover is set (meetings and reminders are
    theirs from now) and the other volunteers on the match are promised a word; either way
    the coordinator who asked is promised one line."""
    row = await session.get(CoverAsk, ask_id)
    if row is None:
        return AnswerProblem.NOT_NEEDED
    if row.state == EXPIRED or (row.state == ASKED and row.expires_at <= now):
        return AnswerProblem.TOO_LATE
    if row.state != ASKED:
        return AnswerProblem.NOT_NEEDED if row.state == VOID else AnswerProblem.ANSWERED
    if not yes:
        if not await _settle(session, row, NO, now):
            return AnswerProblem.ANSWERED
        await _tell_asker(session, row, now)
        return Answer(row)
    if not await still_needed(session, row, now):
        await _settle(session, row, VOID, now)
        return AnswerProblem.NOT_NEEDED
    if not await _settle(session, row, YES, now):
        return AnswerProblem.ANSWERED
    try:
        cover = await add_cover(session, row.group_id, row.match_id, row.person_id, now, tz)
    except MatchError:
        row.state = VOID
        return AnswerProblem.NOT_NEEDED
    await _tell_asker(session, row, now)
    for partner in await partners(session, row, now):
        await outbox.enqueue(session, row.group_id, PARTNER, row.id, partner, now)
    return Answer(row, cover)


async def partners(session: AsyncSession, row: CoverAsk, now: datetime) -> list[int]:
    """The match's other volunteers who are not on a pause (not the one covering)."""
    paused = await people.paused_person_ids(session, row.group_id, now)
    ids = await session.scalars(
        select(MatchVolunteer.person_id).where(
            MatchVolunteer.match_id == row.match_id,
            MatchVolunteer.ended_at.is_(None),
            MatchVolunteer.person_id != row.person_id,
            MatchVolunteer.role.in_((REGULAR, TEMPORARY)),
        )
    )
    return [pid for pid in dict.fromkeys(ids) if pid not in paused]


async def unreached(session: AsyncSession, ask_id: int, now: datetime) -> None:
    """The question could not be delivered: the coordinator may pick someone else."""
    row = await session.get(CoverAsk, ask_id)
    if row is not None and await _settle(session, row, UNREACHED, now):
        await _tell_asker(session, row, now)


async def void(session: AsyncSession, ask_id: int, now: datetime) -> None:
    row = await session.get(CoverAsk, ask_id)
    if row is not None:
        await _settle(session, row, VOID, now)


async def void_for_pause(session: AsyncSession, pause_id: int, now: datetime) -> int:
    """The pause ended: open asks about it are no longer needed (a late yes sets nothing,
    and the coordinator is not told of an answer that no longer matters)."""
    return await changed(
        session,
        CoverAsk,
        CoverAsk.pause_id == pause_id,
        CoverAsk.state == ASKED,
        values={"state": VOID, "answered_at": now},
    )


async def expire_due(session: AsyncSession, group_id: int, now: datetime) -> int:
    """Asks left unanswered for `ANSWER_WITHIN`: let go, and the coordinator who asked is
    promised a line (once: the state moves in the same transaction). Returns how many."""
    rows = list(
        await session.scalars(
            select(CoverAsk).where(
                CoverAsk.group_id == group_id,
                CoverAsk.state == ASKED,
                CoverAsk.expires_at <= now,
            )
        )
    )
    count = 0
    for row in rows:
        if await _settle(session, row, EXPIRED, now):
            await _tell_asker(session, row, now)
            count += 1
    return count


@dataclass(frozen=True)
class AskView:
    """An ask with what its messages name: the match, whom, whose pause, who asked."""

    ask: CoverAsk
    match: Match
    person: Person
    paused: Person
    pause: Pause
    asker: Person | None


async def view(session: AsyncSession, ask_id: int) -> AskView | None:
    row = await session.get(CoverAsk, ask_id)
    if row is None:
        return None
    match = await session.get(Match, row.match_id)
    person = await session.get(Person, row.person_id)
    pause = await session.get(Pause, row.pause_id)
    paused = await session.get(Person, pause.person_id) if pause is not None else None
    if match is None or person is None or pause is None or paused is None:
        return None
    asker = await session.get(Person, row.asked_by) if row.asked_by is not None else None
    return AskView(row, match, person, paused, pause, asker)


async def is_covering(session: AsyncSession, row: CoverAsk) -> bool:
    """The asked volunteer still takes the match's meetings for that pause."""
    found = await session.scalar(
        select(MatchVolunteer.id).where(
            MatchVolunteer.match_id == row.match_id,
            MatchVolunteer.person_id == row.person_id,
            MatchVolunteer.until_pause_id == row.pause_id,
            MatchVolunteer.ended_at.is_(None),
        )
    )
    return found is not None
