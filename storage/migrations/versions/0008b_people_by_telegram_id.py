"""people by Telegram id: the group of every private update without reading every person

Every private update finds the sender's group(s) by their Telegram id alone
(`groups.groups_of_member`), and a first /start looks for their rows in other groups
(`people.record_member`); the only index began with the group, so each of these read the
whole people table (issue 15: per-update work; 5,000 rows at 200 groups).

Revision ID: 0008b
Revises: 0008
Create Date: 2026-12-04 16:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008b"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_people_telegram_user_id"), ["telegram_user_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_people_telegram_user_id"))
