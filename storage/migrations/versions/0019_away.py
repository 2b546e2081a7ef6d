"""away: the coordinator's stand-in for a period, and pauses that wait for the coordinator

Revision ID: 0019
Revises: 0001
Create Date: 2026-12-04 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0019"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
# Pauses (0004, 0004b) are held for the coordinator; the summary is an outbox item (0013,
# which 0004b depends on).
depends_on: str | Sequence[str] | None = "0004b"


def upgrade() -> None:
    op.create_table(
        "coordinator_away",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("coordinator_id", sa.Integer(), nullable=False),
        sa.Column("stand_in_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("ends_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("ended_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_coordinator_away_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"],
            ["people.id"],
            name=op.f("fk_coordinator_away_coordinator_id_people"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stand_in_id"],
            ["people.id"],
            name=op.f("fk_coordinator_away_stand_in_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinator_away")),
    )
    with op.batch_alter_table("coordinator_away", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_coordinator_away_group_id"), ["group_id"])
        batch_op.create_index(batch_op.f("ix_coordinator_away_coordinator_id"), ["coordinator_id"])
        batch_op.create_index(batch_op.f("ix_coordinator_away_stand_in_id"), ["stand_in_id"])
    op.create_table(
        "away_held_pauses",
        sa.Column("pause_id", sa.Integer(), nullable=False),
        sa.Column("away_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pause_id"],
            ["pauses.id"],
            name=op.f("fk_away_held_pauses_pause_id_pauses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["away_id"],
            ["coordinator_away.id"],
            name=op.f("fk_away_held_pauses_away_id_coordinator_away"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("pause_id", name=op.f("pk_away_held_pauses")),
    )
    with op.batch_alter_table("away_held_pauses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_away_held_pauses_away_id"), ["away_id"])


def downgrade() -> None:
    op.drop_table("away_held_pauses")
    op.drop_table("coordinator_away")
