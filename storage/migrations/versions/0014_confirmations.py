"""confirmations: pending actions behind single-use button tokens; people ids never reused

Revision ID: 0014
Revises: 0001
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0014"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=43), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "actor_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("chat_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject_person_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("created_at", storage.base.UTCDateTime(), nullable=False),
        sa.Column("used_at", storage.base.UTCDateTime(), nullable=True),
        sa.Column("superseded_at", storage.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_pending_actions_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subject_person_id"],
            ["people.id"],
            name=op.f("fk_pending_actions_subject_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_actions")),
        sa.UniqueConstraint("token", name=op.f("uq_pending_actions_token")),
    )
    with op.batch_alter_table("pending_actions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_actions_actor_user_id"), ["actor_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pending_actions_subject_person_id"), ["subject_person_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pending_actions_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "id_counters",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_id_counters")),
    )
    # Ids given out before this migration: none below the highest one is handed out again.
    op.execute(
        "INSERT INTO id_counters (table_name, last_id) "
        "SELECT 'people', COALESCE(MAX(id), 0) FROM people"
    )


def downgrade() -> None:
    op.drop_table("id_counters")
    with op.batch_alter_table("pending_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_actions_created_at"))
        batch_op.drop_index(batch_op.f("ix_pending_actions_subject_person_id"))
        batch_op.drop_index(batch_op.f("ix_pending_actions_actor_user_id"))
    op.drop_table("pending_actions")
