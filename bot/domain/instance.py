"""The single-instance guard: one lease row per database says which PeerBot serves from it.

Two bots on one database would send every reminder twice, so a bot starts only when it
gets the lease: none is held, the holder's heartbeat is older than the timeout, or the
holder was a process on this host that is gone (a crash or SIGKILL, then a restart).
The holder renews the heartbeat while it runs and releases the lease when it stops.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.changes import changed
from storage.models.privacy import InstanceLease

LEASE_ID = 1
LEASE_TIMEOUT = timedelta(seconds=90)
RENEW_EVERY = timedelta(seconds=30)

# Holders alive in this process (the tests run two bots in one process).
_live_here: set[str] = set()


class AnotherInstanceRunning(RuntimeError):
    """Another PeerBot holds the lease on this database."""


@dataclass(frozen=True)
class LeaseInfo:
    holder: str
    heartbeat_at: datetime


def new_holder_id() -> str:
    return f"{socket.gethostname()}/{os.getpid()}/{uuid.uuid4().hex[:8]}"


def holder_is_gone(holder: str) -> bool:
    """True only when we can be sure: the holder ran on this host and its process is gone
    (or it was an earlier life of this very process id, e.g. PID 1 in a container)."""
    host, _, rest = holder.partition("/")
    pid_text = rest.partition("/")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return holder not in _live_here
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by someone else
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process its parent has not reaped yet still answers kill(pid, 0)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


async def current_lease(session: AsyncSession) -> LeaseInfo | None:
    lease = await session.get(InstanceLease, LEASE_ID)
    return None if lease is None else LeaseInfo(lease.holder, lease.heartbeat_at)


def is_live(lease: LeaseInfo | None, now: datetime, timeout: timedelta = LEASE_TIMEOUT) -> bool:
    """Whether a lease still belongs to a running bot (as far as the database can tell)."""
    return (
        lease is not None
        and now - lease.heartbeat_at < timeout
        and not holder_is_gone(lease.holder)
    )


async def acquire(
    session: AsyncSession, holder: str, now: datetime, stale_after: timedelta = LEASE_TIMEOUT
) -> None:
    """Take the lease or raise AnotherInstanceRunning. Atomic on SQLite and PostgreSQL: a
    conditional UPDATE (row-locked), else an INSERT that only one can win."""
    existing = await current_lease(session)
    if existing is None:
        try:
            async with session.begin_nested():
                session.add(
                    InstanceLease(id=LEASE_ID, holder=holder, acquired_at=now, heartbeat_at=now)
                )
        except IntegrityError:
            existing = await current_lease(session)
        else:
            _live_here.add(holder)
            return
    if existing is not None and existing.holder != holder and is_live(existing, now, stale_after):
        raise _refusal(existing)
    taken = await changed(
        session,
        InstanceLease,
        InstanceLease.id == LEASE_ID,
        InstanceLease.holder == (existing.holder if existing else holder),
        InstanceLease.heartbeat_at == (existing.heartbeat_at if existing else now),
        values={"holder": holder, "acquired_at": now, "heartbeat_at": now},
        sync_session=False,
    )
    if taken != 1:  # someone else took it between our read and our write
        raise _refusal(await current_lease(session))
    _live_here.add(holder)


def _refusal(lease: LeaseInfo | None) -> AnotherInstanceRunning:
    since = lease.heartbeat_at.isoformat(timespec="seconds") if lease else "just now"
    return AnotherInstanceRunning(
        "Another PeerBot is running on this database (its last sign of life: "
        f"{since} UTC). Two would send everything twice, so this one will not start. "
        "Stop the other one first; if it crashed, wait "
        f"{int(LEASE_TIMEOUT.total_seconds())} seconds and try again."
    )


async def renew(session: AsyncSession, holder: str, now: datetime) -> bool:
    """Refresh the heartbeat. False when the lease is no longer ours (taken over)."""
    renewed = await changed(
        session,
        InstanceLease,
        InstanceLease.id == LEASE_ID,
        InstanceLease.holder == holder,
        values={"heartbeat_at": now},
        sync_session=False,
    )
    return renewed == 1


async def release(session: AsyncSession, holder: str) -> None:
    """Give the lease back on a clean stop, so the next start needs no waiting."""
    _live_here.discard(holder)
    await session.execute(
        delete(InstanceLease)
        .where(InstanceLease.id == LEASE_ID, InstanceLease.holder == holder)
        .execution_options(synchronize_session=False)
    )


async def clear(session: AsyncSession) -> None:
    """Forget any lease (after a restore: the copy's holder is not running)."""
    await session.execute(delete(InstanceLease).execution_options(synchronize_session=False))


__all__ = [
    "LEASE_TIMEOUT",
    "RENEW_EVERY",
    "AnotherInstanceRunning",
    "LeaseInfo",
    "acquire",
    "clear",
    "current_lease",
    "is_live",
    "new_holder_id",
    "release",
    "renew",
]
