"""Privacy and production housekeeping: the single-instance lease and the retention job's
last run. Neither holds anything about a person."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime


class InstanceLease(Base):
    """Who is serving from this database right now. One row at most (id 1): a second bot
    on the same database would send everything twice. Belongs to the database, not to a
    group, so it has no group_id."""

    __tablename__ = "instance_lease"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "<host>/<pid>/<random>", so a restart on the same host can see its predecessor is gone.
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RetentionRun(Base):
    """When the daily retention pass last ran for a group (so restarts don't matter)."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), unique=True)
    last_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Rows deleted by the last run (counts only; for the log and the coordinator's peace).
    deleted_rows: Mapped[int] = mapped_column(Integer, default=0)
