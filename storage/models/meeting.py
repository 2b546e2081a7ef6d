"""The monthly volunteer meeting: its date poll, the answers, the decision, the reminders;
the coordinator's meeting settings; and other polls the coordinator posts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, TelegramId, UTCDateTime


class MeetingSetting(Base):
    """A meeting setting the coordinator changed; unset keys fall back to `.env`."""

    __tablename__ = "meeting_settings"
    __table_args__ = (UniqueConstraint("group_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(300))


class Meeting(Base):
    """One monthly meeting: from its date poll ("open") to no date yet ("closed") or a
    chosen date ("decided")."""

    __tablename__ = "meetings"
    # One scheduled poll per month, even if two passes race or the bot restarts.
    __table_args__ = (UniqueConstraint("group_id", "schedule_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    # "2026-12" for the poll the monthly schedule opened; empty for the coordinator's own.
    schedule_key: Mapped[str | None] = mapped_column(String(7), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    poll_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    poll_chat_id: Mapped[int | None] = mapped_column(TelegramId, nullable=True)
    poll_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set when the nudge round was claimed (its nudges promised in the outbox, in the same
    # transaction) or the poll closed.
    nudged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    place: Mapped[str] = mapped_column(String(200), default="")
    # Bumped each time the meeting moves (the calendar invitation's SEQUENCE).
    sequence: Mapped[int] = mapped_column(Integer, default=0)


class MeetingOption(Base):
    """One option of the date poll, at its position; `starts_at` empty = none of the days."""

    __tablename__ = "meeting_options"
    __table_args__ = (UniqueConstraint("meeting_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MeetingAnswer(Base):
    """One option a volunteer ticked. A changed vote replaces them; a retraction removes them."""

    __tablename__ = "meeting_answers"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GroupPoll(Base):
    """Any other poll the coordinator posts (`/poll`); the result goes to them at closing.
    Only the counts are read, from the closed poll; no votes are stored."""

    __tablename__ = "group_polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    poll_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[int] = mapped_column(TelegramId)
    message_id: Mapped[int] = mapped_column(Integer)
    question: Mapped[str] = mapped_column(String(300))
    anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
