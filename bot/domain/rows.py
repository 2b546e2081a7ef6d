"""Reading one row by id, and the error a lost claim raises: what handlers need from the
database, without importing SQLAlchemy or the models themselves."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Person
from storage.models.broadcast import Broadcast
from storage.models.meeting import Meeting
from storage.models.minutes import Minutes

# A claim (a unique row another pass wrote a moment earlier) failed when its transaction
# was committed: the caller treats it as "already claimed".
AlreadyClaimed = IntegrityError

T = TypeVar("T")


async def _one(session: AsyncSession, model: type[T], row_id: int) -> T:
    return await session.get_one(model, row_id)


async def person(session: AsyncSession, person_id: int) -> Person:
    return await _one(session, Person, person_id)


async def find_person(session: AsyncSession, person_id: int) -> Person | None:
    return await session.get(Person, person_id)


async def meeting(session: AsyncSession, meeting_id: int) -> Meeting:
    return await _one(session, Meeting, meeting_id)


async def find_meeting(session: AsyncSession, meeting_id: int) -> Meeting | None:
    return await session.get(Meeting, meeting_id)


async def minutes(session: AsyncSession, minutes_id: int) -> Minutes:
    return await _one(session, Minutes, minutes_id)


async def broadcast(session: AsyncSession, broadcast_id: int) -> Broadcast:
    return await _one(session, Broadcast, broadcast_id)
