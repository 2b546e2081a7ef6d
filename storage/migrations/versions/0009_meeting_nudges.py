"""meeting nudges: each nudge of a poll's round is claimed per volunteer, so a restart
continues an interrupted round without nudging anyone twice

Revision ID: 0009
Revises: 0002
Create Date: 2026-11-26 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0009"
down_revision: str | None = "0002"  # it points at meetings
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "meeting_nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("claimed_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_meeting_nudges_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_meeting_nudges_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_meeting_nudges_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_nudges")),
        sa.UniqueConstraint("meeting_id", "person_id", name=op.f("uq_meeting_nudges_meeting_id")),
    )
    with op.batch_alter_table("meeting_nudges", schema=None) as batch_op:
        for column in ("group_id", "meeting_id", "person_id"):
            batch_op.create_index(batch_op.f(f"ix_meeting_nudges_{column}"), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meeting_nudges", schema=None) as batch_op:
        for column in ("person_id", "meeting_id", "group_id"):
            batch_op.drop_index(batch_op.f(f"ix_meeting_nudges_{column}"))
    op.drop_table("meeting_nudges")
