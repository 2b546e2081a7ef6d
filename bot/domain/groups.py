"""The groups one PeerBot serves, and who coordinates each: data, not configuration.

A group is added by the operator (`peerbot groups add`), by an association admin (`/setup`
in the group), or, as the one-group shortcut, from GROUP_CHAT_ID + COORDINATOR_IDS at each
start. Everything else in the database belongs to exactly one group.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from bot.domain import people
from storage.models import Group, GroupCoordinator, Person
from storage.models.meeting import Meeting

INT64_MAX = 2**63 - 1  # Telegram's ids are signed 64-bit numbers


@dataclass(frozen=True)
class GroupScope:
    """The group an update or a scheduler pass serves, as read at its start: every
    `services.group_id`, `services.tz`, `services.coordinator_ids`... in that work is
    this group's (`bot.context.current_group`)."""

    id: int
    chat_id: int
    timezone: str
    language: str
    coordinator_ids: tuple[int, ...]
    crisis_help_text: str | None = None
    title: str | None = None
    # The weekly overview's slot as the group's coordinators chose it; None: the settings.
    digest_weekday: int | None = None
    digest_time: time | None = None
    key: str = ""  # `button_key`: names the group on a button
    # The work is for someone in several groups (a private update of theirs, an outbox
    # item to them): buttons made now carry `key`, so a tap acts for this group.
    marks_buttons: bool = False

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# Separates a button's data from the key of the group it was made for (`mark_data`).
KEY_MARK = "~"


def button_key(group: Group) -> str:
    """A short name of the group for button data: not its row id, which a group added
    after this one was removed could take over; its id and creation time together are
    never this group's again. Not a secret: a tap still acts only for someone in it."""
    stamp = int(group.created_at.timestamp())
    digest = hashlib.sha256(f"{group.id}:{stamp}".encode()).digest()
    return base64.urlsafe_b64encode(digest[:6]).decode()  # 8 characters


def mark_data(data: str, key: str) -> str:
    """Button data that also names its group (see `GroupScope.marks_buttons`)."""
    return f"{data}{KEY_MARK}{key}"


def split_data(data: str) -> tuple[str, str | None]:
    """(the button's own data, the key of the group it names or None)."""
    own, mark, key = data.rpartition(KEY_MARK)
    return (own, key) if mark else (data, None)


async def group_of_poll(session: AsyncSession, poll_id: str) -> Group | None:
    """The group whose meeting poll this is (a vote names only the poll)."""
    return await session.scalar(
        select(Group).join(Meeting, Meeting.group_id == Group.id).where(Meeting.poll_id == poll_id)
    )


def _member_filter(user_id: int | ColumnElement[Any]) -> ColumnElement[bool]:
    """Groups this person is a member of or coordinates."""
    member = select(Person.group_id).where(
        Person.telegram_user_id == user_id, Person.is_member.is_(True)
    )
    coordinating = select(GroupCoordinator.group_id).where(
        GroupCoordinator.telegram_user_id == user_id
    )
    return or_(Group.id.in_(member), Group.id.in_(coordinating))


def _with_coordinators_statement(
    which: ColumnElement[bool], *, sender: ColumnElement[Any] | None = None
) -> Select[Any]:
    """The groups `which` picks, oldest first, each with its named coordinators (as
    `coordinator_ids` orders them); with `sender`, that Telegram user's row in each."""
    statement = (
        select(Group, GroupCoordinator.telegram_user_id)
        .outerjoin(GroupCoordinator, GroupCoordinator.group_id == Group.id)
        .where(which)
        .order_by(Group.id, GroupCoordinator.added_at, GroupCoordinator.telegram_user_id)
    )
    if sender is None:
        return statement
    return statement.add_columns(Person).outerjoin(
        Person, and_(Person.group_id == Group.id, Person.telegram_user_id == sender)
    )


# Every update runs one of these first: built once, with the update's values as parameters
# (building one took more CPU than SQLite spends running it).
_BY_CHAT = _with_coordinators_statement(
    or_(Group.chat_id == bindparam("chat_id"), Group.previous_chat_id == bindparam("chat_id"))
)
_BY_POLL = _with_coordinators_statement(
    Group.id.in_(select(Meeting.group_id).where(Meeting.poll_id == bindparam("poll_id")))
)
_BY_SENDER = _with_coordinators_statement(
    _member_filter(bindparam("user_id")), sender=bindparam("user_id")
)


async def _with_coordinators(
    session: AsyncSession, statement: Select[Any], **values: object
) -> list[tuple[Group, list[int]]]:
    """Run one of the statements above: every update needs the group and its coordinators,
    in one statement. The sender's rows that come along are kept for `find_person`."""
    found: dict[int, tuple[Group, list[int]]] = {}
    for group, user_id, *person in await session.execute(statement, values):
        entry = found.setdefault(group.id, (group, []))
        if user_id is not None:
            entry[1].append(user_id)
        if person and person[0] is not None:
            people.remember_sender_row(session, person[0])
    return list(found.values())


async def chat_group_with_coordinators(
    session: AsyncSession, chat_id: int
) -> tuple[Group, list[int]] | None:
    """`find_group` and the group's named coordinators, in one statement."""
    found = await _with_coordinators(session, _BY_CHAT, chat_id=chat_id)
    found.sort(key=lambda entry: entry[0].chat_id != chat_id)  # its current id first
    return found[0] if found else None


async def poll_group_with_coordinators(
    session: AsyncSession, poll_id: str
) -> tuple[Group, list[int]] | None:
    """`group_of_poll` and the group's named coordinators, in one statement."""
    found = await _with_coordinators(session, _BY_POLL, poll_id=poll_id)
    return found[0] if found else None


async def private_group_with_coordinators(
    session: AsyncSession, user_id: int, *, key: str | None = None, chosen: int | None = None
) -> tuple[tuple[Group, list[int]] | None, bool]:
    """`private_group` with the group's named coordinators: one statement when the person
    is in at most one group (nearly everyone)."""
    member = await _with_coordinators(session, _BY_SENDER, user_id=user_id)
    group, several = await _pick_private(session, user_id, [g for g, _ in member], key, chosen)
    if group is None:
        return None, several
    return next(entry for entry in member if entry[0] is group), several


async def group_of_person(session: AsyncSession, user_id: int) -> Group | None:
    """The group a private message from this person is about when nothing says which: the
    first group they coordinate, else the first they are a member of."""
    found, _several = await private_group(session, user_id)
    return found


async def private_group(
    session: AsyncSession, user_id: int, *, key: str | None = None, chosen: int | None = None
) -> tuple[Group | None, bool]:
    """The group a private update of this person is for, and whether they are in several:
    the group a tapped button names (`key`), else the one they chose for the conversation
    (`chosen`, a group id), else `group_of_person`'s. A key or choice of a group they are
    not in counts for nothing."""
    return await _pick_private(
        session, user_id, await groups_of_member(session, user_id), key, chosen
    )


async def _pick_private(
    session: AsyncSession,
    user_id: int,
    member: list[Group],
    key: str | None,
    chosen: int | None,
) -> tuple[Group | None, bool]:
    """`private_group`'s choice among the groups the person is in (`member`, oldest first)."""
    if len(member) <= 1:
        return (member[0] if member else None), False
    for group in member:
        if key is not None and button_key(group) == key:
            return group, True
    for group in member:
        if chosen is not None and group.id == chosen:
            return group, True
    coordinated = await groups_coordinated_by(session, user_id)
    return (coordinated or member)[0], True


async def in_several_groups(session: AsyncSession, user_id: int) -> bool:
    """Whether this person is a member (or coordinator) of more than one group here."""
    return len(await groups_of_member(session, user_id)) > 1


async def set_title(session: AsyncSession, group_id: int, title: str) -> None:
    """Remember the group's Telegram title (asked of Telegram when none was known)."""
    group = await session.get(Group, group_id)
    if group is not None and title:
        group.title = title[:255]


def stored_time(value: str | None) -> time | None:
    """A local time stored as "HH:MM" (None: not chosen)."""
    if not value:
        return None
    hours, _sep, minutes = value.partition(":")
    return time(int(hours), int(minutes or 0))


def title_of(group: Group | GroupScope) -> str:
    """How the group is named to people: its title, or its chat id when none is known."""
    return group.title or str(group.chat_id)


async def scope_of(
    session: AsyncSession,
    group: Group,
    now: datetime,
    *,
    marks_buttons: bool = False,
    named: Sequence[int] | None = None,
) -> GroupScope:
    """What the work of one update or pass needs to know of its group (`named`: its named
    coordinators when already read with it, see `_with_coordinators`)."""
    return GroupScope(
        id=group.id,
        chat_id=group.chat_id,
        timezone=group.timezone,
        language=group.language,
        coordinator_ids=tuple(await coordinators_now(session, group.id, now, named=named)),
        crisis_help_text=group.crisis_help_text,
        title=group.title,
        digest_weekday=group.digest_weekday,
        digest_time=stored_time(group.digest_time),
        key=button_key(group),
        marks_buttons=marks_buttons,
    )


@dataclass(frozen=True)
class GroupView:
    """A group as the operator sees it: ids and settings, never anybody's name."""

    id: int
    chat_id: int
    timezone: str
    language: str
    coordinator_ids: tuple[int, ...]
    members: int
    title: str | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


async def find_group(session: AsyncSession, chat_id: int) -> Group | None:
    """The group of a chat id, also by the id it had before Telegram made it a supergroup."""
    return await session.scalar(
        select(Group)
        .where(or_(Group.chat_id == chat_id, Group.previous_chat_id == chat_id))
        .order_by(Group.chat_id != chat_id)  # its current id first
        .limit(1)
    )


async def all_groups(session: AsyncSession) -> list[Group]:
    """Every group served, oldest first (each scheduler pass serves them all)."""
    return list(await session.scalars(select(Group).order_by(Group.id)))


async def add_group(
    session: AsyncSession,
    chat_id: int,
    now: datetime,
    *,
    coordinator_ids: Collection[int] | None = None,
    timezone: str | None = None,
    language: str | None = None,
    crisis_help_text: str | None = None,
    title: str | None = None,
) -> Group:
    """Register a group, or update the one this chat id already finds: what is given
    replaces what was there (`coordinator_ids` the whole list), what is None stays."""
    group = await find_group(session, chat_id)
    if group is None:
        group = Group(
            chat_id=chat_id,
            created_at=now,
            timezone=timezone or "Europe/Copenhagen",
            language=language or "da",
        )
        session.add(group)
        await session.flush()
    if timezone is not None:
        ZoneInfo(timezone)  # an unknown zone is refused before it is stored
        group.timezone = timezone
    if language is not None:
        group.language = language
    if crisis_help_text is not None:
        group.crisis_help_text = crisis_help_text or None
    if title:
        group.title = title[:255]
    if coordinator_ids is not None:
        await set_coordinators(session, group.id, coordinator_ids, now)
    await session.flush()
    return group


async def remove_group(session: AsyncSession, chat_id: int) -> bool:
    """Stop serving a group and delete everything of it (people, pauses, matches, minutes,
    ...: every row belongs to its group and goes with it). False if it was not there."""
    group = await find_group(session, chat_id)
    if group is None:
        return False
    await session.delete(group)
    await session.flush()
    return True


async def set_coordinators(
    session: AsyncSession, group_id: int, user_ids: Collection[int], now: datetime
) -> None:
    """The group's coordinators are exactly `user_ids` from now on; the people rows of the
    group follow (a coordinator is not counted as a volunteer)."""
    wanted = set(user_ids)
    have = set(await coordinator_ids(session, group_id))
    if have - wanted:
        await session.execute(
            delete(GroupCoordinator).where(
                GroupCoordinator.group_id == group_id,
                GroupCoordinator.telegram_user_id.in_(have - wanted),
            )
        )
    for user_id in sorted(wanted - have):
        session.add(GroupCoordinator(group_id=group_id, telegram_user_id=user_id, added_at=now))
    for person in await session.scalars(select(Person).where(Person.group_id == group_id)):
        person.is_coordinator = person.telegram_user_id in wanted
    await session.flush()


async def coordinator_ids(session: AsyncSession, group_id: int) -> list[int]:
    """The Telegram user ids named as the group's coordinators, in a stable order."""
    rows = await session.scalars(
        select(GroupCoordinator.telegram_user_id)
        .where(GroupCoordinator.group_id == group_id)
        .order_by(GroupCoordinator.added_at, GroupCoordinator.telegram_user_id)
    )
    return list(rows)


async def coordinators_now(
    session: AsyncSession, group_id: int, now: datetime, *, named: Sequence[int] | None = None
) -> list[int]:
    """The coordinators of this group now, as Telegram user ids: whom a notice for "the
    coordinator" goes to and who has the coordinator's everyday rights at `now`.

    Keep this name and signature stable: the coordinator's stand-in (`/away`) is built on
    top of it and routes notices through it. Today it is the named coordinators; `now` is
    there for the periods when a stand-in takes over. `named`: the named coordinators when
    the caller already read them (`coordinator_ids`'s order), saving a statement."""
    del now  # no time-bound coordinators yet
    if named is not None:
        return list(named)
    return await coordinator_ids(session, group_id)


async def all_coordinator_ids(session: AsyncSession) -> list[int]:
    """Everyone who coordinates a group here (for the coordinators' command menu)."""
    rows = await session.scalars(
        select(GroupCoordinator.telegram_user_id)
        .distinct()
        .order_by(GroupCoordinator.telegram_user_id)
    )
    return list(rows)


async def is_coordinator(session: AsyncSession, group_id: int, user_id: int) -> bool:
    """Whether this person is one of the group's named coordinators."""
    found = await session.scalar(
        select(GroupCoordinator.telegram_user_id).where(
            GroupCoordinator.group_id == group_id, GroupCoordinator.telegram_user_id == user_id
        )
    )
    return found is not None


async def groups_coordinated_by(session: AsyncSession, user_id: int) -> list[Group]:
    """The groups this person coordinates, oldest first."""
    return list(
        await session.scalars(
            select(Group)
            .join(GroupCoordinator, GroupCoordinator.group_id == Group.id)
            .where(GroupCoordinator.telegram_user_id == user_id)
            .order_by(Group.id)
        )
    )


async def groups_of_member(session: AsyncSession, user_id: int) -> list[Group]:
    """The groups this person is a member of (or coordinates), oldest first."""
    return list(
        await session.scalars(select(Group).where(_member_filter(user_id)).order_by(Group.id))
    )


async def overview(session: AsyncSession) -> list[GroupView]:
    """Every group with its settings, coordinators' ids and how many members it has."""
    counts = dict(
        (
            await session.execute(
                select(Person.group_id, func.count())
                .where(Person.is_member.is_(True))
                .group_by(Person.group_id)
            )
        ).all()
    )
    views = []
    for group in await all_groups(session):
        views.append(
            GroupView(
                id=group.id,
                chat_id=group.chat_id,
                timezone=group.timezone,
                language=group.language,
                coordinator_ids=tuple(await coordinator_ids(session, group.id)),
                members=int(counts.get(group.id, 0)),
                title=group.title,
            )
        )
    return views


def parse_user_ids(values: Sequence[str]) -> list[int]:
    """Telegram user ids as typed (`1001 1002` or `1001,1002`); a wrong one raises
    ValueError naming it."""
    found = []
    for value in values:
        for part in value.replace(",", " ").split():
            # Plain ASCII digits: int() would also read "١٢٣", "1_000" and "+5" as ids.
            digits = part.removeprefix("-")
            if not digits.isascii() or not digits.isdigit():
                raise ValueError(f"{part!r} is not a Telegram user id (a number)")
            user_id = int(part)
            if not 0 < user_id <= INT64_MAX:
                raise ValueError(f"{user_id} is not a person's Telegram user id (positive)")
            found.append(user_id)
    return found


@dataclass(frozen=True)
class GroupCounts:
    """One group as an association admin sees it (`/overview`): counts only, never a name."""

    chat_id: int
    volunteers: int
    active_matches: int
    pauses_going_on: int
    meetings_held: int
    waiting_for_a_match: int


async def counts(session: AsyncSession, now: datetime) -> list[GroupCounts]:
    """Per group: volunteers, active matches, pauses going on, meetings held, and volunteers
    waiting for a match (not on a pause, on no active match)."""
    from storage.models import Match, MatchVolunteer, Pause
    found = []
    for group in await all_groups(session):
        volunteer_ids = set(
            await session.scalars(
                select(Person.id).where(
                    Person.group_id == group.id,
                    Person.is_member.is_(True),
                    Person.is_coordinator.is_(False),
                )
            )
        )
        paused = set(
            await session.scalars(
                select(Pause.person_id).where(
                    Pause.group_id == group.id, Pause.started_at <= now, Pause.ended_at.is_(None)
                )
            )
        )
        active = select(Match.id).where(Match.group_id == group.id, Match.ended_at.is_(None))
        matched = set(
            await session.scalars(
                select(MatchVolunteer.person_id).where(
                    MatchVolunteer.match_id.in_(active), MatchVolunteer.ended_at.is_(None)
                )
            )
        )
        found.append(
            GroupCounts(
                chat_id=group.chat_id,
                volunteers=len(volunteer_ids),
                active_matches=int(
                    await session.scalar(select(func.count()).select_from(active.subquery())) or 0
                ),
                pauses_going_on=len(paused & volunteer_ids),
                meetings_held=int(
                    await session.scalar(
                        select(func.count()).where(
                            Meeting.group_id == group.id,
                            Meeting.status == "decided",
                            Meeting.starts_at <= now,
                        )
                    )
                    or 0
                ),
                waiting_for_a_match=len(volunteer_ids - paused - matched),
            )
        )
    return found
