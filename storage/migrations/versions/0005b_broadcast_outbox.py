"""broadcast copies move to the outbox (at most once); broadcast_deliveries goes

Every row of broadcast_deliveries becomes an outbox item of kind "broadcast" (subject: the
broadcast; the group's copy has no person): pending stays pending, a copy left "sending"
by a stopped bot becomes "unknown" (it may have arrived: never sent twice, the coordinator
may try it again), the others keep their outcome, so reports and "try again" still work.

Revision ID: 0005b
Revises: 0005
Create Date: 2026-12-04 10:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0005b"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = "0013"


def upgrade() -> None:
    # The group's copy is an outbox item with no person (as the meeting's post, 0009c).
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("person_id", existing_type=sa.Integer(), nullable=True)
    op.execute(
        """
        INSERT INTO outbox (group_id, kind, subject_id, person_id, due_at, state,
                            claim_token, claimed_at, attempts, outcome, done_at)
        SELECT group_id, 'broadcast', broadcast_id, person_id, updated_at,
               CASE status WHEN 'pending' THEN 'pending' ELSE 'done' END,
               NULL, NULL, attempts,
               CASE status WHEN 'pending' THEN NULL WHEN 'sending' THEN 'unknown'
                           ELSE status END,
               CASE status WHEN 'pending' THEN NULL ELSE updated_at END
        FROM broadcast_deliveries
        ORDER BY broadcast_id, person_id IS NOT NULL, id
        """
    )
    op.drop_table("broadcast_deliveries")


def downgrade() -> None:
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
    # Copies of broadcasts that still exist go back (a claimed one as "sending").
    op.execute(
        """
        INSERT INTO broadcast_deliveries (group_id, broadcast_id, person_id, status, attempts,
                                          updated_at)
        SELECT o.group_id, o.subject_id, o.person_id,
               CASE o.state WHEN 'done' THEN COALESCE(o.outcome, 'failed')
                            WHEN 'claimed' THEN 'sending' ELSE 'pending' END,
               o.attempts, COALESCE(o.done_at, o.due_at)
        FROM outbox o JOIN broadcasts b ON b.id = o.subject_id
        WHERE o.kind = 'broadcast'
        """
    )
    # person_id stays nullable: other features' group items need it too (0009c).
    op.execute("DELETE FROM outbox WHERE kind = 'broadcast'")
