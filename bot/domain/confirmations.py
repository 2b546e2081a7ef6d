"""Confirmations behind buttons: a pending action with a random, single-use token.

A confirmation button ("Yes, delete everything", "Bo" in the coordinator's pause list)
carries only the token. The stored row says what it is about (the exact person, or a
match), who was shown it and in which chat. Taking it marks it used in the same step, so a
second tap, a tap after 24 hours, one superseded by a newer question or one about someone
since forgotten acts on nobody, and the handler can say which kindly.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.changes import changed
from storage.models import Person
from storage.models.confirmations import IdCounter, PendingAction

LIFETIME = timedelta(hours=24)
# Used and expired rows are kept a little while, so a late tap can be told what happened.
KEPT_FOR = timedelta(days=7)


class Kind(StrEnum):
    FORGET = "forget"
    PAUSE_SOMEONE = "pause_someone"
    RESUME_SOMEONE = "resume_someone"
    END_MATCH = "end_match"
    MINUTES = "minutes"  # "Send"/"Cancel" under a draft of the minutes (subject: its id)
    BROADCAST = "broadcast"  # "Send now" under a broadcast's choices (subject: its id)
    # "Ask Dennis" under a pause notice (person: whom to ask; subject: the match).
    COVER_SUGGESTION = "cover_suggestion"
    # "Yes"/"No, thanks" under the question to a volunteer (subject: the cover ask).
    COVER_ANSWER = "cover_answer"
    AWAY = "away"  # "Yes, set it up" for a time away (person: the stand-in)
    AWAY_END = "away_end"  # end a time away early (subject: its id)


# Longer than a day where the question may wait longer: the coordinator reads the pause
# notice when she can, and a volunteer has two days to answer (the ask itself expires then).
LIFETIMES = {Kind.COVER_SUGGESTION: timedelta(days=7), Kind.COVER_ANSWER: timedelta(days=3)}


def lifetime(kind: Kind | str) -> timedelta:
    return LIFETIMES.get(Kind(kind), LIFETIME)


class Refusal(Enum):
    """Why a token acts on nobody."""

    UNKNOWN = "unknown"  # never made, or its person was forgotten
    USED = "used"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    NOT_YOURS = "not_yours"  # shown to someone else, or in another chat


@dataclass(frozen=True)
class Pending:
    kind: Kind
    subject_person_id: int | None
    subject_id: int | None


async def offer(
    session: AsyncSession,
    group_id: int,
    kind: Kind,
    *,
    actor_user_id: int,
    chat_id: int,
    now: datetime,
    person_id: int | None = None,
    subject_id: int | None = None,
    replacing: bool = False,
) -> str:
    """A new token for one button; `replacing`: this question supersedes the person's open
    ones of this kind (a question with several buttons replaces only with its first)."""
    if replacing:
        await supersede(session, group_id, (kind,), actor_user_id, now)
    token = secrets.token_urlsafe(16)
    session.add(
        PendingAction(
            group_id=group_id,
            token=token,
            kind=kind.value,
            actor_user_id=actor_user_id,
            chat_id=chat_id,
            subject_person_id=person_id,
            subject_id=subject_id,
            created_at=now,
        )
    )
    await session.flush()
    return token


async def supersede(
    session: AsyncSession, group_id: int, kinds: tuple[Kind, ...], actor_user_id: int, now: datetime
) -> None:
    """A newer question of these kinds replaces the open ones this person was shown; old
    rows past keeping are pruned on the way."""
    await changed(
        session,
        PendingAction,
        PendingAction.group_id == group_id,
        PendingAction.actor_user_id == actor_user_id,
        PendingAction.kind.in_([k.value for k in kinds]),
        PendingAction.used_at.is_(None),
        PendingAction.superseded_at.is_(None),
        values={"superseded_at": now},
    )
    await session.execute(
        delete(PendingAction).where(
            PendingAction.created_at < now - max(LIFETIME, *LIFETIMES.values()) - KEPT_FOR
        )
    )


async def take(
    session: AsyncSession,
    group_id: int,
    token: str,
    kinds: tuple[Kind, ...],
    *,
    actor_user_id: int,
    chat_id: int,
    now: datetime,
) -> Pending | Refusal:
    """The action behind `token`, marked used; or why it acts on nobody."""
    row = await session.scalar(
        select(PendingAction).where(
            PendingAction.token == token, PendingAction.group_id == group_id
        )
    )
    if row is None or row.kind not in {k.value for k in kinds}:
        return Refusal.UNKNOWN
    if row.actor_user_id != actor_user_id or row.chat_id != chat_id:
        return Refusal.NOT_YOURS
    if row.used_at is not None:
        return Refusal.USED
    if row.superseded_at is not None:
        return Refusal.SUPERSEDED
    if now - row.created_at >= lifetime(row.kind):
        return Refusal.EXPIRED
    # Conditional, so two taps racing each other can't both take it.
    taken = await changed(
        session,
        PendingAction,
        PendingAction.id == row.id,
        PendingAction.used_at.is_(None),
        values={"used_at": now},
    )
    if taken != 1:
        return Refusal.USED
    return Pending(Kind(row.kind), row.subject_person_id, row.subject_id)


async def next_person_id(session: AsyncSession) -> int | None:
    """An id no person ever had, on SQLite (which would reuse a deleted highest id); None
    elsewhere, where the database's sequence already never reuses one."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return None
    # One statement, so two people's updates handled side by side never read the same
    # counter and hand out the same id (a read, then a write, would race); the first
    # person ever creates the counter row.
    highest = select(func.coalesce(func.max(Person.id), 0)).scalar_subquery()
    taken = await session.execute(
        sqlite_insert(IdCounter)
        .values(table_name="people", last_id=highest + 1)
        .on_conflict_do_update(
            index_elements=[IdCounter.table_name],
            set_={"last_id": func.max(IdCounter.last_id, highest) + 1},
        )
        .returning(IdCounter.last_id)
    )
    return int(taken.scalar_one())
