"""broadcast: the coordinator's broadcasts and their deliveries

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-25 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TELEGRAM_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("created_by", TELEGRAM_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=True),
        sa.Column("important", sa.Boolean(), nullable=False),
        sa.Column("source_chat_id", TELEGRAM_ID, nullable=True),
        sa.Column("source_message_id", sa.Integer(), nullable=True),
        sa.Column("report_message_id", sa.Integer(), nullable=True),
        sa.Column("paused_skipped", sa.Integer(), nullable=False),
        sa.Column("created_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("finished_at", storage.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_broadcasts_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcasts_group_id"), ["group_id"], unique=False)

    op.create_table(
        "broadcast_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", storage.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_deliveries_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_broadcast_deliveries_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_broadcast_deliveries_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_deliveries")),
    )
    with op.batch_alter_table("broadcast_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcast_deliveries_broadcast_id"), ["broadcast_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_broadcast_deliveries_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_broadcast_deliveries_person_id"), ["person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_broadcast_deliveries_status"), ["status"], unique=False
        )


def downgrade() -> None:
    op.drop_table("broadcast_deliveries")
    op.drop_table("broadcasts")
