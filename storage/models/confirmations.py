"""Confirmations waiting for a tap, and the people ids already given out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, TelegramId, UTCDateTime


class PendingAction(Base):
    """An action a button asks to confirm ("yes, delete everything", "pause Bo"). The
    button carries only `token` (random, unguessable, single use), never a row id that a
    later, different row could take over. The row names the exact person it concerns; it
    goes with them (cascade), so a button about someone forgotten acts on nobody."""

    __tablename__ = "pending_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(43), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Who was shown the button, and where: only they, only there, may use it.
    actor_user_id: Mapped[int] = mapped_column(TelegramId, index=True)
    chat_id: Mapped[int] = mapped_column(TelegramId)
    subject_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # A match or another row the action concerns (not a person), when there is one.
    subject_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdCounter(Base):
    """The highest id ever given out per table, where the database would reuse ids: SQLite
    hands a deleted highest id to the next row (PostgreSQL's sequences never do)."""

    __tablename__ = "id_counters"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
