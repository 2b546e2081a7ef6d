"""matches digest outbox: the weekly digest is an outbox item; `match_digests` goes

Each group's next digest (its `next_due_at`, possibly already past when the bot was
stopped across it) becomes the outbox item for the group at that moment, so a digest that
was due while the bot was stopped is sent once at the start and the next one is not
promised twice. What it says is decided when it is sent.

Revision ID: 0003e
Revises: 0003d
Create Date: 2026-12-04 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0003e"
down_revision: str | None = "0003d"
branch_labels: str | Sequence[str] | None = None
# The outbox, and its items for the group itself (no person: the meeting branch's 0009c).
depends_on: str | Sequence[str] | None = ("0013", "0009c")

KIND = "match_digest"


def upgrade() -> None:
    op.execute(
        "INSERT INTO outbox (group_id, kind, subject_id, person_id, due_at, state, attempts) "
        f"SELECT d.group_id, '{KIND}', d.group_id, NULL, d.next_due_at, 'pending', 0 "
        "FROM match_digests d WHERE NOT EXISTS (SELECT 1 FROM outbox o "
        f"WHERE o.kind = '{KIND}' AND o.group_id = d.group_id AND o.due_at = d.next_due_at)"
    )
    op.drop_table("match_digests")


def downgrade() -> None:
    """The table comes back with each group's next digest still owed."""
    op.create_table(
        "match_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("next_due_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("last_sent_at", storage.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_match_digests_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_digests")),
        sa.UniqueConstraint("group_id", name=op.f("uq_match_digests_group_id")),
    )
    op.execute(
        "INSERT INTO match_digests (group_id, next_due_at) "
        "SELECT o.group_id, MIN(o.due_at) FROM outbox o "
        f"WHERE o.kind = '{KIND}' AND o.state = 'pending' GROUP BY o.group_id"
    )
    op.execute(f"DELETE FROM outbox WHERE kind = '{KIND}'")
