"""Minutes of the monthly meeting for those who couldn't come, and who came (attendance).

Only what the delivery needs is kept: the minutes' text, or the Telegram file id and name
of the coordinator's document (never its bytes). Everything here is deleted after
MINUTES_RETENTION_MONTHS.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, TelegramId, UTCDateTime


class AttendanceCheck(Base):
    """One meeting's attendance: `saved_at` once it is saved (a tap on a name in the
    minutes' preview, Send, or the week's question); `outcome` "asked" once the coordinator
    was asked for the minutes a week after the meeting (claimed once), "skipped" when that
    was found too late, "saved" otherwise."""

    __tablename__ = "attendance_checks"
    __table_args__ = (UniqueConstraint("meeting_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # "saved", "asked" or "skipped" (bot.domain.attendance).
    outcome: Mapped[str] = mapped_column(String(16))
    saved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Attendance(Base):
    """Whether a volunteer came to a meeting, as the coordinator recorded it."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    present: Mapped[bool] = mapped_column(Boolean)


class Minutes(Base):
    """One set of minutes: "draft" until the coordinator confirms, then "confirmed"."""

    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(
        ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    file_id: Mapped[str | None] = mapped_column(String(256), nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # The coordinator who wrote them; kept (without the mention) when they are forgotten.
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The coordinator's delivery report, edited in place as waiting copies go out.
    report_chat_id: Mapped[int | None] = mapped_column(TelegramId, nullable=True)
    report_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The coordinator said "send now anyway": copies are not held for a pause.
    paused_too: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
