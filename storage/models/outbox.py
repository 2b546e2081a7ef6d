"""The outbox: one row per message the bot has promised to send (a kind, what it is about,
to whom, when). Ids and state only, never a text: the text is rendered when it is sent,
from the feature's own rows, so the privacy rules of those rows hold for it too."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime

PENDING = "pending"  # waiting for its time (or for a claim after a restart)
CLAIMED = "claimed"  # being sent by the process whose token it carries
HELD = "held"  # its person is on a pause; the feature decides at the pause's end
DONE = "done"  # Telegram answered (sent, or can't reach them), or it was no longer wanted


class OutboxItem(Base):
    """One promised message. `subject_id` is the feature's row the text is rendered from
    (e.g. a reminder delivery); `kind` says which feature renders it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", "person_id", "due_at"),
        Index("ix_outbox_due", "group_id", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int] = mapped_column(Integer)
    # None: the group itself (e.g. the meeting's decision posted there).
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True, nullable=True
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    # The claiming process's token: a claim by a process that is gone is taken over.
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # sent | not_started | blocked | failed | not_wanted (with the reason in the log only)
    outcome: Mapped[str | None] = mapped_column(String(16), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
