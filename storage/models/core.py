"""The group, the people in it, and their pauses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, TelegramId, UTCDateTime


class Group(Base):
    """A volunteers' group: the unit an association runs. Every other row belongs to one."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(TelegramId, unique=True)
    # Kept after an upgrade to a supergroup so the old id in `.env` still finds the group.
    previous_chat_id: Mapped[int | None] = mapped_column(TelegramId, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # What varies per group (migration 0015): its local time zone (for days and wall-clock
    # times), the language said in the group, and where to get help at once (shown in the
    # pause flow; empty: the CRISIS_HELP_TEXT setting).
    timezone: Mapped[str] = mapped_column(String(64), server_default="Europe/Copenhagen")
    language: Mapped[str] = mapped_column(String(8), server_default="da")
    crisis_help_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the coordinators get the weekly overview of the matches (migration 0015s):
    # weekday (0 = Monday) and local "HH:MM"; empty: DIGEST_WEEKDAY and DIGEST_TIME.
    digest_weekday: Mapped[int | None] = mapped_column(Integer, nullable=True)
    digest_time: Mapped[str | None] = mapped_column(String(5), nullable=True)
    # Its Telegram title (migration 0015b), to name the group in private to someone in
    # several groups; empty until the bot sees the group or the operator names it.
    title: Mapped[str | None] = mapped_column(String(255), nullable=True)


class GroupCoordinator(Base):
    """A coordinator of one group, by Telegram user id (they may not have joined or started
    the bot yet). `Person.is_coordinator` mirrors these rows for the people of the group."""

    __tablename__ = "group_coordinators"

    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    telegram_user_id: Mapped[int] = mapped_column(TelegramId, primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Person(Base):
    """Someone in the group. Only what the bot needs: the Telegram id, a first name to
    address them by, the @username the coordinator may type, and their language."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("group_id", "telegram_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    # Also alone: a private update names only the sender (migration 0008b).
    telegram_user_id: Mapped[int] = mapped_column(TelegramId, index=True)
    first_name: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    is_member: Mapped[bool] = mapped_column(Boolean, default=True)
    # Coordinators (COORDINATOR_IDS) are in the group but are not counted as volunteers.
    is_coordinator: Mapped[bool] = mapped_column(Boolean, default=False)
    # The bot can only write to people who opened a private chat with it and didn't block it.
    started_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    @property
    def reachable(self) -> bool:
        return self.started_bot and not self.blocked_bot


class Pause(Base):
    """A volunteer's break. Open-ended when `until` is empty; over when `ended_at` is set.
    No reason is ever stored."""

    __tablename__ = "pauses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wants_cover: Mapped[bool] = mapped_column(Boolean, default=True)
    # Due times (migration 0004): the coordinator's next check-in reminder, and when the
    # volunteer is next asked whether they are ready. Empty once the pause has ended.
    next_checkin_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ask_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The volunteer's few words to the coordinator (migration 0004b), sealed (`bot/sealing`:
    # never readable in the database), kept only until every coordinator's notice about
    # the pause is done (sent, or they can't be reached).
    note_for_coordinator: Mapped[str | None] = mapped_column(Text, nullable=True)
