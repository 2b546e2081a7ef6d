"""The coordinator's broadcasts and one delivery row per recipient.

The message itself is not stored: only where to copy it from (the preview the bot sent in
the coordinator's private chat), so formatting, a photo or a document survive untouched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, TelegramId, UTCDateTime


class Broadcast(Base):
    """A message from the coordinator to the group and/or every volunteer in private.

    status: composing (waiting for the message) -> draft (choosing) -> sending -> done,
    or cancelled. audience: group | volunteers | both.
    """

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int] = mapped_column(TelegramId)  # the coordinator's Telegram id
    status: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str | None] = mapped_column(String(16), nullable=True)
    important: Mapped[bool] = mapped_column(Boolean, default=False)
    # Copied from here: the preview in the coordinator's private chat.
    source_chat_id: Mapped[int | None] = mapped_column(TelegramId, nullable=True)
    source_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The message that shows the choices, then the delivery report, edited in place.
    report_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Volunteers on a pause who were left out because the message was not important.
    paused_skipped: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class BroadcastDelivery(Base):
    """One copy to send: to a person in private, or to the group (`person_id` empty).

    status: pending -> sending -> sent | not_started | blocked | failed | unknown.
    "sending" is committed before the message goes out; a row found in "sending" by a
    later run was interrupted mid-send and becomes "unknown" (it may have arrived), never
    re-sent by itself: the coordinator can choose to try it again.
    """

    __tablename__ = "broadcast_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
