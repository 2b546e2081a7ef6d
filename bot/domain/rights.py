"""A person's rights (GDPR articles 15, 17 and 20): a copy of everything stored about them,
and forgetting them.

Generic over the schema: every table with a foreign key to `people.id` is found in the
SQLAlchemy metadata, so tables that features add later are covered without changes here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Table, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

import storage.models  # noqa: F401  (registers every feature's tables on the metadata)
from bot.domain import people
from storage.base import Base
from storage.models import Match, MatchVolunteer, Person

PEOPLE = Person.__table__


@dataclass(frozen=True)
class PersonReference:
    """A column that points at a person: `table.column -> people.id`."""

    table: Table
    column: Column[Any]
    ondelete: str | None

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column.name}"


def person_references() -> list[PersonReference]:
    """Every column in the schema with a foreign key to people.id, in dependency order."""
    found = []
    for table in Base.metadata.sorted_tables:
        if table is PEOPLE:
            continue
        for column in table.columns:
            for key in column.foreign_keys:
                if key.column.table is PEOPLE and key.column.name == "id":
                    ondelete = (key.ondelete or "").upper() or None
                    found.append(PersonReference(table, column, ondelete))
    return found


def tables_about_people() -> list[str]:
    return sorted({ref.table.name for ref in person_references()})


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _row(mapping: Any) -> dict[str, Any]:
    return {key: _json_value(value) for key, value in dict(mapping).items()}


async def export_person(session: AsyncSession, person_id: int, now: datetime) -> dict[str, Any]:
    """Everything stored about a person, as plain JSON-ready data: their people row and every
    row that points at them, table by table (empty tables included, so nothing looks hidden)."""
    person_row = (
        (await session.execute(select(PEOPLE).where(PEOPLE.c.id == person_id))).mappings().one()
    )
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in tables_about_people()}
    seen: dict[str, set[tuple[Any, ...]]] = {name: set() for name in tables}
    for ref in person_references():
        rows = await session.execute(
            select(ref.table).where(ref.column == person_id).order_by(*ref.table.primary_key)
        )
        for row in rows.mappings():
            key = tuple(row[c.name] for c in ref.table.primary_key)
            if key not in seen[ref.table.name]:  # a row may point at them through two columns
                seen[ref.table.name].add(key)
                tables[ref.table.name].append(_row(row))
    return {
        "exported_at": now.isoformat(),
        "person": _row(person_row),
        "tables": tables,
    }


async def count_references(session: AsyncSession, person_id: int) -> dict[str, int]:
    """How many rows point at a person, per referencing column (0 everywhere once forgotten)."""
    counts = {}
    for ref in person_references():
        counts[ref.name] = await session.scalar(
            select(func.count()).select_from(ref.table).where(ref.column == person_id)
        )
    counts["people.id"] = await session.scalar(
        select(func.count()).select_from(PEOPLE).where(PEOPLE.c.id == person_id)
    )
    return counts


@dataclass
class Forgotten:
    """What forgetting someone changed, without anything about the person."""

    deleted_rows: int = 0
    # Labels of running matches and activities that have no volunteer left (need cover).
    uncovered_labels: list[str] = field(default_factory=list)


async def uncovered_without(
    session: AsyncSession, group_id: int, person_id: int, now: datetime
) -> list[str]:
    """Running matches this person is on where nobody else active (still in the group and
    not on a pause) is."""
    theirs = await session.scalars(
        select(Match)
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
    paused = await people.paused_person_ids(session, group_id, now)
    labels = []
    for match in theirs:
        others = await session.scalars(
            select(MatchVolunteer.person_id)
            .join(Person, Person.id == MatchVolunteer.person_id)
            .where(
                MatchVolunteer.match_id == match.id,
                MatchVolunteer.ended_at.is_(None),
                MatchVolunteer.person_id != person_id,
                Person.is_member.is_(True),
            )
        )
        if not [p for p in others if p not in paused]:
            labels.append(match.label)
    return labels


async def forget_person(
    session: AsyncSession, group_id: int, person_id: int, now: datetime
) -> Forgotten:
    """Delete every row about a person, then the person. Rows of shared things that merely
    mention them (e.g. who moved a meeting) keep the thing and lose the mention. Matches
    stay with the citizen; the ones left without a volunteer are reported by label."""
    result = Forgotten(uncovered_labels=await uncovered_without(session, group_id, person_id, now))
    await overwrite_deleted_content(session)
    # Explicitly, not only by ON DELETE CASCADE: a column added without `ondelete` must not
    # block the deletion nor keep a row about the person.
    for ref in reversed(person_references()):
        if ref.ondelete == "SET NULL" and ref.column.nullable:
            await session.execute(
                update(ref.table).where(ref.column == person_id).values({ref.column.name: None})
            )
        else:
            deleted = await session.execute(delete(ref.table).where(ref.column == person_id))
            result.deleted_rows += max(deleted.rowcount or 0, 0)
    deleted = await session.execute(
        delete(Person)
        .where(Person.id == person_id, Person.group_id == group_id)
        .execution_options(synchronize_session="fetch")
    )
    result.deleted_rows += max(deleted.rowcount or 0, 0)
    return result


async def overwrite_deleted_content(session: AsyncSession) -> None:
    """SQLite keeps deleted rows in free pages unless told to zero them (many builds do by
    default, not all): make sure a forgotten name does not linger in the file."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(text("PRAGMA secure_delete = ON"))


async def find_person_for_coordinator(
    session: AsyncSession, group_id: int, reference: str
) -> Person | None:
    """A person named by the coordinator as @username or Telegram id, also after they left
    the group (their right to a copy or deletion does not end when they leave)."""
    text = reference.strip()
    digits = text.removeprefix("-")  # one sign at most: int() refuses "--5"
    if digits.isascii() and digits.isdigit():
        user_id = int(text)
        # Telegram ids fit 52 bits; anything longer is nobody (and no database integer).
        if abs(user_id) >= 2**53:
            return None
        return await people.find_person(session, group_id, user_id)
    name = text.removeprefix("@").lower()
    if not name:
        return None
    rows = await session.scalars(
        select(Person).where(Person.group_id == group_id, func.lower(Person.username) == name)
    )
    return rows.first()
