"""Matches (a citizen with one or two volunteers) and group activities, their meetings
(occurrences) and the reminders before each meeting.

A citizen is only ever a short label the coordinator chooses (initials or a nickname).
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime


class Match(Base):
    """A match ("match") or a group activity ("activity") with its rhythm in local time."""

    __tablename__ = "matches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "match" | "activity"
    label: Mapped[str] = mapped_column(String(40))  # citizen label or activity name
    place: Mapped[str | None] = mapped_column(String(80), nullable=True)
    rhythm: Mapped[str] = mapped_column(String(16))  # "weekly" | "biweekly" | "dates"
    weekday: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 0 = Monday
    local_time: Mapped[time | None] = mapped_column(Time, nullable=True)
    # The rhythm runs from this date (and every other week counts from it).
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # a season's last day
    # Occurrences exist as rows up to this local date (the scheduler extends it).
    planned_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MatchVolunteer(Base):
    """A volunteer on a match: a regular one, or a temporary cover during someone's pause."""

    __tablename__ = "match_volunteers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # "regular" | "temporary"
    until_pause_id: Mapped[int | None] = mapped_column(
        ForeignKey("pauses.id", ondelete="SET NULL"), nullable=True, index=True
    )
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MatchOccurrence(Base):
    """One meeting. `scheduled_date` is the rhythm's date (kept when moved), so planning the
    same weeks twice never makes a second row."""

    __tablename__ = "match_occurrences"
    __table_args__ = (
        # Its first column also serves match_id (and the cascade from matches).
        UniqueConstraint("match_id", "scheduled_date"),
        # What the scheduling pass asks for: not yet armed (migration 0003f).
        Index("ix_match_occurrences_unarmed", "group_id", "armed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    scheduled_date: Mapped[date] = mapped_column(Date)
    local_date: Mapped[date] = mapped_column(Date)
    local_time: Mapped[time] = mapped_column(Time)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16))  # "planned" | "moved" | "cancelled"
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    changed_by: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # Asked when a volunteer cancels: does the citizen know? (None: not answered)
    citizen_informed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # Reminder rows exist for this occurrence (cleared when volunteers or times change).
    armed: Mapped[bool] = mapped_column(Boolean, default=False)


class ReminderDelivery(Base):
    """One reminder to one volunteer before one meeting; unique, and sent through the
    outbox (one item per pending row, kind "match_reminder", migration 0003c) until it is
    "sent" or "skipped"."""

    __tablename__ = "reminder_deliveries"
    # Its first column also serves occurrence_id (and the cascade from occurrences).
    __table_args__ = (UniqueConstraint("occurrence_id", "person_id", "lead"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    occurrence_id: Mapped[int] = mapped_column(
        ForeignKey("match_occurrences.id", ondelete="CASCADE")
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    lead: Mapped[str] = mapped_column(String(16))  # "day_before" | "hours_before"
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "pending" (its outbox item may be in flight) | "sent" (Telegram answered) | "skipped"
    state: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    skipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Why it was skipped, or how sending went ("sent", "not_started", "failed", ...).
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ReminderPreference(Base):
    """A volunteer's own lead times (defaults: the day before at 18:00, and 2 hours before)."""

    __tablename__ = "reminder_preferences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), unique=True)
    day_before: Mapped[bool] = mapped_column(Boolean, default=True)
    day_before_hour: Mapped[int] = mapped_column(Integer, default=18)
    hours_before: Mapped[bool] = mapped_column(Boolean, default=True)
    hours_before_count: Mapped[int] = mapped_column(Integer, default=2)


class CoverAsk(Base):
    """The coordinator asked one volunteer privately whether they will take a match's
    meetings while a volunteer on it is on a pause. The ask names exactly the match, the
    pause and the person; it is answered yes or no, or expires (`expires_at`, a scheduler
    pass) and the coordinator who asked (`asked_by`) is told. No reason is stored."""

    __tablename__ = "cover_asks"
    __table_args__ = (Index("ix_cover_asks_state_expires", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    pause_id: Mapped[int] = mapped_column(ForeignKey("pauses.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    asked_by: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True, index=True
    )
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "asked" | "yes" | "no" | "expired" | "void" (no longer needed when answered)
    state: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
