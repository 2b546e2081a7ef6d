"""groups: what varies per group (time zone, language, crisis text) and its coordinators

Revision ID: 0015
Revises: 0001
Create Date: 2026-12-04 13:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.base

revision: str = "0015"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TELEGRAM_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("groups", schema=None) as batch_op:
        # The defaults before groups were data; the one-group shortcut (GROUP_CHAT_ID)
        # writes TIMEZONE and LANGUAGE over them at the next start.
        batch_op.add_column(
            sa.Column(
                "timezone", sa.String(length=64), server_default="Europe/Copenhagen", nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("language", sa.String(length=8), server_default="da", nullable=False)
        )
        batch_op.add_column(sa.Column("crisis_help_text", sa.Text(), nullable=True))
    op.create_table(
        "group_coordinators",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", TELEGRAM_ID, nullable=False),
        sa.Column("added_at", storage.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_group_coordinators_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", "telegram_user_id", name=op.f("pk_group_coordinators")),
    )
    with op.batch_alter_table("group_coordinators", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_group_coordinators_telegram_user_id"), ["telegram_user_id"], unique=False
        )
    # The coordinators COORDINATOR_IDS named so far, as the people rows remember them.
    op.execute(
        "INSERT INTO group_coordinators (group_id, telegram_user_id, added_at) "
        "SELECT group_id, telegram_user_id, joined_at FROM people WHERE is_coordinator"
    )


def downgrade() -> None:
    with op.batch_alter_table("group_coordinators", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_group_coordinators_telegram_user_id"))
    op.drop_table("group_coordinators")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_column("crisis_help_text")
        batch_op.drop_column("language")
        batch_op.drop_column("timezone")
