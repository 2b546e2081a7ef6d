"""meeting outbox: poll nudges and meeting reminders become outbox items; what the old
tables still owed is moved there, and `meeting_nudges` and `meeting_reminders` go

An interrupted reminder round (its cursor "to:<id>" / "past:<id>", recipients in person-id
order) continues after its cursor; the recipient left "to:" (maybe never sent) is promised
again. A nudge round under way keeps what Telegram answered (as done items, so the round,
still unclaimed, promises only the others); a nudge left without an outcome is promised
again. Whether each one is still wanted is decided when it is sent.

Revision ID: 0009b
Revises: 0009
Create Date: 2026-12-04 10:45:00
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0009b"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0013"  # the outbox

NUDGE, REMINDER = "meeting nudge", "meeting reminder"
NUDGE_BEFORE_CLOSE = timedelta(days=1)
When = storage.base.UTCDateTime

people = sa.table(
    "people",
    sa.column("id", sa.Integer),
    sa.column("group_id", sa.Integer),
    sa.column("is_member", sa.Boolean),
    sa.column("is_coordinator", sa.Boolean),
)
meetings = sa.table(
    "meetings",
    sa.column("id", sa.Integer),
    sa.column("group_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("closes_at", When),
    sa.column("nudged_at", When),
)
reminders = sa.table(
    "meeting_reminders",
    sa.column("id", sa.Integer),
    sa.column("group_id", sa.Integer),
    sa.column("meeting_id", sa.Integer),
    sa.column("due_at", When),
    sa.column("done_at", When),
    sa.column("outcome", sa.String),
)
nudges = sa.table(
    "meeting_nudges",
    sa.column("meeting_id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("claimed_at", When),
    sa.column("outcome", sa.String),
)
outbox = sa.table(
    "outbox",
    sa.column("group_id", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("subject_id", sa.Integer),
    sa.column("person_id", sa.Integer),
    sa.column("due_at", When),
    sa.column("state", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("outcome", sa.String),
    sa.column("done_at", When),
)


def _volunteers(connection: sa.Connection, group_id: int) -> list[int]:
    """Members who are not coordinators, by id; each item is judged again when it is sent."""
    return list(
        connection.scalars(
            sa.select(people.c.id)
            .where(people.c.group_id == group_id, people.c.is_member.is_(True))
            .where(people.c.is_coordinator.is_(False))
            .order_by(people.c.id)
        )
    )


def _cursor(outcome: str | None) -> tuple[int, bool]:
    """(last recipient claimed, Telegram answered for them) of an old reminder round."""
    for prefix, answered in (("to:", False), ("past:", True)):
        if outcome and outcome.startswith(prefix):
            return int(outcome.removeprefix(prefix)), answered
    return 0, True


def upgrade() -> None:
    connection = op.get_bind()
    items: list[dict[str, object]] = []
    for row in connection.execute(sa.select(reminders).where(reminders.c.done_at.is_(None))):
        last, answered = _cursor(row.outcome)
        for person_id in _volunteers(connection, row.group_id):
            if person_id > last or (person_id == last and not answered):
                items.append(
                    {
                        "group_id": row.group_id,
                        "kind": REMINDER,
                        "subject_id": row.meeting_id,
                        "person_id": person_id,
                        "due_at": row.due_at,
                        "state": "pending",
                        "attempts": 0,
                        "outcome": None,
                        "done_at": None,
                    }
                )
    rounds = sa.select(meetings).where(
        meetings.c.status == "open",
        meetings.c.nudged_at.is_(None),
        meetings.c.closes_at.isnot(None),
    )
    for meeting in connection.execute(rounds):
        for claim in connection.execute(sa.select(nudges).where(nudges.c.meeting_id == meeting.id)):
            answered = claim.outcome is not None
            items.append(
                {
                    "group_id": meeting.group_id,
                    "kind": NUDGE,
                    "subject_id": meeting.id,
                    "person_id": claim.person_id,
                    "due_at": meeting.closes_at - NUDGE_BEFORE_CLOSE,
                    "state": "done" if answered else "pending",
                    "attempts": 1 if answered else 0,
                    "outcome": claim.outcome if answered else None,
                    "done_at": claim.claimed_at if answered else None,
                }
            )
    if items:
        connection.execute(sa.insert(outbox), items)
    op.drop_table("meeting_nudges")
    op.drop_table("meeting_reminders")


def downgrade() -> None:
    """The old tables come back empty: what the outbox still owes stays there."""
    group_fk = sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE")
    op.create_table(
        "meeting_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("lead", sa.String(length=16), nullable=False),
        sa.Column("due_at", When(), nullable=False),
        sa.Column("done_at", When(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        group_fk,
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "meeting_nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("claimed_at", When(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["meeting_id"], ["meetings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("meeting_id", "person_id"),
    )
