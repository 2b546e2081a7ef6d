"""minutes: the author is a reference to their people row (exported by /mydata, cleared
by /forgetme), no longer a bare Telegram id

Revision ID: 0007c
Revises: 0007b
Create Date: 2026-12-04 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007c"
down_revision: str | None = "0007b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TELEGRAM_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Nothing points at `minutes` any more (0007b), so rebuilding it on SQLite deletes
    # nothing by cascade.
    with op.batch_alter_table("minutes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_minutes_author_id"), ["author_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_minutes_author_id_people"),
            "people",
            ["author_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute(
        """
        UPDATE minutes SET author_id = (
            SELECT MIN(p.id) FROM people p
            WHERE p.group_id = minutes.group_id AND p.telegram_user_id = minutes.author_user_id
        )
        """
    )
    with op.batch_alter_table("minutes", schema=None) as batch_op:
        batch_op.drop_column("author_user_id")


def downgrade() -> None:
    with op.batch_alter_table("minutes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("author_user_id", TELEGRAM_ID, server_default="0", nullable=False)
        )
    op.execute(
        """
        UPDATE minutes SET author_user_id = COALESCE(
            (SELECT p.telegram_user_id FROM people p WHERE p.id = minutes.author_id), 0
        )
        """
    )
    with op.batch_alter_table("minutes", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_minutes_author_id_people"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_minutes_author_id"))
        batch_op.drop_column("author_id")
