"""Which Telegram updates were handled, so a re-delivered one is not handled twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime


class HandledUpdate(Base):
    """One row per handled update id, written in the update's own transaction and kept
    two days. Like the instance lease it belongs to the bot, not to a group, and holds
    nothing about a person."""

    __tablename__ = "handled_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
