"""The coordinator's weekly digest: when it is due and what it says.

It is an outbox item (`DIGEST_KIND`, for the group: the coordinators are told, each in
their language), promised for the next slot by every scheduler pass; the outbox sends it
at least once when its time comes (after a stop: once, late), if it still says anything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import outbox, people
from bot.domain.matches.core import CANCELLED
from bot.domain.matches.covers import MatchView, overview
from bot.domain.schedule import local_to_utc, local_today
from storage.models import Match, MatchOccurrence, MatchVolunteer, Person
from storage.models.outbox import OutboxItem


def digest_time(value: str | time) -> time:
    """The configured time of the weekly digest. A bad value is an error, never a silent
    09:00 (bot/config.py checks it before the bot starts)."""
    if isinstance(value, time):
        return value
    hours, _sep, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


def next_digest_slot(after: datetime, weekday: int, at: time, tz: ZoneInfo) -> datetime:
    day = local_today(after, tz)
    for offset in range(8):
        candidate_day = day + timedelta(days=offset)
        if candidate_day.weekday() == weekday:
            candidate = local_to_utc(candidate_day, at, tz)
            if candidate > after:
                return candidate
    return local_to_utc(day + timedelta(days=7), at, tz)  # pragma: no cover


# The outbox kind of the weekly digest; its subject is the group, to the coordinators.
DIGEST_KIND = "match_digest"


async def promise_digest(
    session: AsyncSession, group_id: int, now: datetime, weekday: int, at: time, tz: ZoneInfo
) -> None:
    """Promise the digest at its next slot, once (a group's item has no person, so the
    outbox's uniqueness does not cover it). The slot's item is due there, then this
    promises the week after."""
    slot = next_digest_slot(now, weekday, at, tz)
    # The subject (the group) too, so this reads the few digest items along the outbox's
    # unique (kind, subject, ...) index: by group and kind alone it read every reminder
    # in the outbox, 120,000 rows at 5,000 matches, on every pass.
    promised = await session.scalar(
        select(OutboxItem.id).where(
            OutboxItem.group_id == group_id,
            OutboxItem.kind == DIGEST_KIND,
            OutboxItem.subject_id == group_id,
            OutboxItem.due_at == slot,
        )
    )
    if promised is None:
        await outbox.enqueue(session, group_id, DIGEST_KIND, group_id, None, slot)


def is_digest_slot(due_at: datetime, weekday: int, at: time, tz: ZoneInfo) -> bool:
    """Whether `due_at` is a slot of the digest as configured now (an item promised
    before the weekday or time was changed is not wanted)."""
    return next_digest_slot(due_at - timedelta(microseconds=1), weekday, at, tz) == due_at


@dataclass(frozen=True)
class Digest:
    waiting: list[tuple[Person, datetime]]  # volunteers without a match, and since when
    cancelled_in_a_row: list[tuple[Match, int]]
    needs_cover: list[MatchView] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.waiting and not self.cancelled_in_a_row and not self.needs_cover


async def digest(
    session: AsyncSession,
    group_id: int,
    now: datetime,
    *,
    unmatched_weeks: int,
    cancelled_streak: int,
    coordinator_user_ids: Iterable[int] = (),
) -> Digest:
    """Who has waited long without a match (not counting paused people), and which
    matches have had several cancelled meetings in a row."""
    coordinators = set(coordinator_user_ids)
    paused = await people.paused_person_ids(session, group_id, now)
    on_match = set(
        await session.scalars(
            select(MatchVolunteer.person_id)
            .join(Match, Match.id == MatchVolunteer.match_id)
            .where(
                Match.group_id == group_id,
                Match.ended_at.is_(None),
                MatchVolunteer.ended_at.is_(None),
            )
        )
    )
    last_on: dict[int, datetime] = dict(
        (pid, when)
        for pid, when in await session.execute(
            select(MatchVolunteer.person_id, func.max(MatchVolunteer.ended_at))
            .where(MatchVolunteer.group_id == group_id)
            .group_by(MatchVolunteer.person_id)
        )
        if when is not None
    )
    waiting = []
    for person in await people.members(session, group_id):
        if person.telegram_user_id in coordinators or person.id in paused or person.id in on_match:
            continue
        since = max(person.joined_at, last_on.get(person.id, person.joined_at))
        if now - since >= timedelta(weeks=unmatched_weeks):
            waiting.append((person, since))
    streaks = []
    for match in await session.scalars(
        select(Match).where(Match.group_id == group_id, Match.ended_at.is_(None))
    ):
        # The latest meetings that took place or were due, and those already cancelled
        # ahead: a run of cancellations at the top is a streak.
        recent = await session.scalars(
            select(MatchOccurrence.status)
            .where(
                MatchOccurrence.match_id == match.id,
                (MatchOccurrence.starts_at <= now) | (MatchOccurrence.status == CANCELLED),
            )
            .order_by(MatchOccurrence.starts_at.desc())
            .limit(cancelled_streak)
        )
        statuses = list(recent)
        if len(statuses) == cancelled_streak and all(s == CANCELLED for s in statuses):
            streaks.append((match, cancelled_streak))
    needing = [v for v in await overview(session, group_id, now, next_count=0) if v.needs_cover]
    return Digest(sorted(waiting, key=lambda w: w[1]), streaks, needing)
