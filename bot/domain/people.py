"""The group and its people: who is a volunteer, who can be written to, who is paused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain import confirmations
from storage.models import Group, Pause, Person


async def ensure_group(session: AsyncSession, chat_id: int, now: datetime) -> Group:
    """The group for a configured chat id, created on first start; finds it after an upgrade
    to a supergroup too, when `.env` still holds the old id."""
    group = await session.scalar(
        select(Group).where(or_(Group.chat_id == chat_id, Group.previous_chat_id == chat_id))
    )
    if group is None:
        group = Group(chat_id=chat_id, created_at=now)
        session.add(group)
        await session.flush()
    return group


async def migrate_group(session: AsyncSession, group_id: int, new_chat_id: int) -> None:
    """Telegram gave the group a new id (upgraded to a supergroup)."""
    group = await session.get_one(Group, group_id)
    if group.chat_id != new_chat_id:
        group.previous_chat_id, group.chat_id = group.chat_id, new_chat_id


@dataclass(frozen=True)
class TelegramPerson:
    """What Telegram tells us about a user; only these fields are ever kept."""

    user_id: int
    first_name: str
    username: str | None
    language: str
    is_coordinator: bool = False


# `session.info` slot: the rows of the update's sender, read with the update's group
# (`groups.private_group_with_coordinators`), by (group id, Telegram user id).
SENDER_ROWS = "sender_rows"


def remember_sender_row(session: AsyncSession, person: Person) -> None:
    """Keep the sender's row at hand for `find_person` in this transaction."""
    session.info.setdefault(SENDER_ROWS, {})[(person.group_id, person.telegram_user_id)] = person


async def find_person(session: AsyncSession, group_id: int, user_id: int) -> Person | None:
    """The person behind this Telegram user in the group, if any. The sender's row read with
    the update's group saves the statement nearly every private update makes, while it is
    still the session's own as a query would return it (not deleted, nothing expired)."""
    known = session.info.get(SENDER_ROWS, {}).get((group_id, user_id))
    if known is not None and known in session:
        state = inspect(known)
        if not (state.deleted or state.was_deleted or state.expired_attributes):
            return known
    return await session.scalar(_PERSON, {"group_id": group_id, "user_id": user_id})


# Built once, with the values as parameters: these run on most updates.
_PERSON = select(Person).where(
    Person.group_id == bindparam("group_id"), Person.telegram_user_id == bindparam("user_id")
)
_ROWS_OF_USER = (
    select(Person).where(Person.telegram_user_id == bindparam("user_id")).order_by(Person.id)
)


async def member_by_id(session: AsyncSession, group_id: int, person_id: int) -> Person | None:
    """A current member of the group by row id (None for a stale or foreign id)."""
    person = await session.get(Person, person_id)
    if person is None or person.group_id != group_id or not person.is_member:
        return None
    return person


async def find_by_username(session: AsyncSession, group_id: int, username: str) -> Person | None:
    name = username.removeprefix("@").lower()
    people = await session.scalars(
        select(Person).where(Person.group_id == group_id, Person.is_member.is_(True))
    )
    return next((p for p in people if (p.username or "").lower() == name), None)


async def record_member(
    session: AsyncSession,
    group_id: int,
    who: TelegramPerson,
    now: datetime,
    *,
    started_bot: bool | None = None,
) -> Person:
    """Remember a member of the group (joined, voted, or started the bot), refreshing the
    name, username and language they have on Telegram now."""
    # Their rows in every group at once (one statement; usually just this group's or none).
    rows = list(await session.scalars(_ROWS_OF_USER, {"user_id": who.user_id}))
    person = next((row for row in rows if row.group_id == group_id), None)
    others = [row for row in rows if row is not person]
    if person is None:
        # One bot for every group: someone who opened the private chat for another group
        # can be written to here too (and one who blocked it cannot).
        elsewhere = others[0] if others else None
        if started_bot is None and elsewhere is not None:
            started_bot = elsewhere.started_bot and not elsewhere.blocked_bot
        # Never an id someone forgotten had: an old button must not find the newcomer.
        person = Person(
            id=await confirmations.next_person_id(session),
            group_id=group_id,
            telegram_user_id=who.user_id,
            first_name=who.first_name[:64],
            username=who.username,
            language=who.language,
            is_member=True,
            is_coordinator=who.is_coordinator,
            started_bot=bool(started_bot),
            blocked_bot=False,
            joined_at=now,
        )
        session.add(person)
    else:
        person.first_name = who.first_name[:64]
        person.username = who.username
        person.language = who.language
        person.is_coordinator = who.is_coordinator
        if not person.is_member:
            person.is_member, person.left_at = True, None
    if started_bot:
        person.started_bot, person.blocked_bot = True, False
    if started_bot and others:
        # The same private chat serves every group the person is in.
        await session.execute(
            update(Person)
            .where(Person.telegram_user_id == who.user_id, Person.id != person.id)
            .values(started_bot=True, blocked_bot=False)
            .execution_options(synchronize_session="fetch")
        )
    await session.flush()
    return person


async def record_left(session: AsyncSession, group_id: int, user_id: int, now: datetime) -> None:
    """Someone left the group: they stop being a volunteer; their row goes after retention."""
    person = await find_person(session, group_id, user_id)
    if person is not None and person.is_member:
        person.is_member, person.left_at = False, now


async def forget_non_member(session: AsyncSession, group_id: int, user_id: int) -> None:
    """A non-member wrote to the bot: make sure nothing about them is kept. Someone who
    left the group (or is still counted as a member: see `record_left`) keeps their row
    until the retention period ends."""
    person = await find_person(session, group_id, user_id)
    if person is not None and person.left_at is None and not person.is_member:
        await session.delete(person)


async def mark_unreachable(session: AsyncSession, person_id: int, *, blocked: bool) -> None:
    """Telegram refused a private message: never started the bot, or blocked it."""
    person = await session.get_one(Person, person_id)
    if blocked:
        person.blocked_bot = True
    else:
        person.started_bot = False


def active_pause_filter(now: datetime) -> ColumnElement[bool]:
    """A pause runs until it is ended (by `/resume` or the coordinator). `until` is only the
    planned date on which the volunteer is gently asked whether they are ready."""
    return (Pause.started_at <= now) & Pause.ended_at.is_(None)


async def current_pause(session: AsyncSession, person_id: int, now: datetime) -> Pause | None:
    return await session.scalar(
        select(Pause).where(Pause.person_id == person_id, active_pause_filter(now))
    )


async def paused_person_ids(session: AsyncSession, group_id: int, now: datetime) -> set[int]:
    rows = await session.scalars(
        select(Pause.person_id).where(Pause.group_id == group_id, active_pause_filter(now))
    )
    return set(rows)


async def paused_person_ids_at(session: AsyncSession, group_id: int, moment: datetime) -> set[int]:
    """Who was on a pause at that moment (also pauses that have ended since)."""
    rows = await session.scalars(
        select(Pause.person_id).where(
            Pause.group_id == group_id,
            Pause.started_at <= moment,
            Pause.ended_at.is_(None) | (Pause.ended_at > moment),
        )
    )
    return set(rows)


async def members(session: AsyncSession, group_id: int) -> list[Person]:
    """Everyone currently in the group that the bot knows, by first name."""
    rows = await session.scalars(
        select(Person)
        .where(Person.group_id == group_id, Person.is_member.is_(True))
        .order_by(Person.first_name, Person.id)
    )
    return list(rows)


async def volunteers(session: AsyncSession, group_id: int) -> list[Person]:
    """Members of the group who are volunteers (everyone but the coordinators)."""
    return [p for p in await members(session, group_id) if not p.is_coordinator]


async def active_volunteers(session: AsyncSession, group_id: int, now: datetime) -> list[Person]:
    """Volunteers who are not on a pause (reachable or not)."""
    paused = await paused_person_ids(session, group_id, now)
    return [p for p in await volunteers(session, group_id) if p.id not in paused]
