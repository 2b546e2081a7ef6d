"""broadcasts: the author is a reference to their people row (exported by /mydata, cleared
by /forgetme, the broadcast kept), no longer a bare Telegram id in created_by

Revision ID: 0005c
Revises: 0005b
Create Date: 2026-12-04 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005c"
down_revision: str | None = "0005b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TELEGRAM_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Nothing points at `broadcasts` any more (0005b), so rebuilding it on SQLite deletes
    # nothing by cascade.
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_broadcasts_author_id"), ["author_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_broadcasts_author_id_people"),
            "people",
            ["author_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute(
        """
        UPDATE broadcasts SET author_id = (
            SELECT MIN(p.id) FROM people p
            WHERE p.group_id = broadcasts.group_id AND p.telegram_user_id = broadcasts.created_by
        )
        """
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_column("created_by")


def downgrade() -> None:
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("created_by", TELEGRAM_ID, server_default="0", nullable=False)
        )
    op.execute(
        """
        UPDATE broadcasts SET created_by = COALESCE(
            (SELECT p.telegram_user_id FROM people p WHERE p.id = broadcasts.author_id),
            broadcasts.source_chat_id, 0
        )
        """
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_broadcasts_author_id_people"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_broadcasts_author_id"))
        batch_op.drop_column("author_id")
