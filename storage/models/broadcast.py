"""The coordinator's broadcasts; each copy to send is an outbox item (kind "broadcast").

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
    # The coordinator who wrote it: their /mydata shows it, /forgetme empties this (the
    # broadcast is kept, as a record of what the group was told).
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), nullable=True, index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    audience: Mapped[str | None] = mapped_column(String(16), nullable=True)
    important: Mapped[bool] = mapped_column(Boolean, default=False)
    # Copied from here: the preview in the coordinator's private chat (whose id is the
    # coordinator's; emptied with author_id when they are forgotten).
    source_chat_id: Mapped[int | None] = mapped_column(TelegramId, nullable=True)
    source_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The message that shows the choices, then the delivery report, edited in place.
    report_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Volunteers on a pause who were left out because the message was not important.
    paused_skipped: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
