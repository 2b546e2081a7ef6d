"""Matches and group activities: who meets whom, when, and the reminders before each
meeting. Plain async functions over a session; `now` is always a parameter, and texts are
left to the handlers (these functions return data)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Match,
    MatchOccurrence,
    MatchVolunteer,
)

log = logging.getLogger(__name__)

HORIZON = timedelta(weeks=8)
PLANNED, MOVED, CANCELLED = "planned", "moved", "cancelled"
LIVE_STATUSES = (PLANNED, MOVED)
REGULAR, TEMPORARY = "regular", "temporary"
PENDING, SENT, SKIPPED = "pending", "sent", "skipped"
MAX_LABEL = 20


class MatchError(ValueError):
    """A request the rules refuse; `code` tells the handler which kind words to use."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# For the pause feature --------------------------------------------------------------------


@dataclass(frozen=True)
class PersonMatch:
    match_id: int
    label: str
    kind: str
    next_starts: list[datetime]  # UTC starts of the next planned meetings within the horizon


async def matches_for_person(
    session: AsyncSession,
    group_id: int,
    person_id: int,
    now: datetime,
    *,
    horizon: timedelta = timedelta(weeks=4),
) -> list[PersonMatch]:
    """The matches and activities someone is on now (as regular or temporary volunteer),
    with the starts of their next meetings (not cancelled) within `horizon`."""
    rows = await session.execute(
        select(Match.id, Match.label, Match.kind)
        .join(MatchVolunteer, MatchVolunteer.match_id == Match.id)
        .where(
            Match.group_id == group_id,
            Match.ended_at.is_(None),
            MatchVolunteer.person_id == person_id,
            MatchVolunteer.ended_at.is_(None),
        )
        .distinct()
        .order_by(Match.id)
    )
    found = [tuple(r) for r in rows]
    if not found:
        return []
    starts: dict[int, list[datetime]] = defaultdict(list)
    occurrences = await session.execute(
        select(MatchOccurrence.match_id, MatchOccurrence.starts_at)
        .where(
            MatchOccurrence.match_id.in_([r[0] for r in found]),
            MatchOccurrence.status.in_(LIVE_STATUSES),
            MatchOccurrence.starts_at > now,
            MatchOccurrence.starts_at <= now + horizon,
        )
        .order_by(MatchOccurrence.starts_at)
    )
    for match_id, starts_at in occurrences:
        starts[match_id].append(starts_at)
    return [PersonMatch(mid, label, kind, starts[mid]) for mid, label, kind in found]
