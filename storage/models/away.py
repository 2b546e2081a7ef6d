"""The coordinator's stand-in: a period when what would go to a coordinator goes to
someone else, and the pauses whose volunteer chose to wait for the coordinator instead."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime


class CoordinatorAway(Base):
    """A coordinator's time away (`/away`): from `starts_at` until `ends_at` (local
    midnights, stored in UTC), or until `ended_at` when ended early. Both people are rows
    of `people`, so the period goes with either of them when they are forgotten."""

    __tablename__ = "coordinator_away"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    coordinator_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    stand_in_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AwayHeldPause(Base):
    """A pause whose volunteer chose "wait for the coordinator": its notices go to the
    coordinator at the period's end, never to the stand-in."""

    __tablename__ = "away_held_pauses"

    pause_id: Mapped[int] = mapped_column(
        ForeignKey("pauses.id", ondelete="CASCADE"), primary_key=True
    )
    away_id: Mapped[int] = mapped_column(
        ForeignKey("coordinator_away.id", ondelete="CASCADE"), index=True
    )
