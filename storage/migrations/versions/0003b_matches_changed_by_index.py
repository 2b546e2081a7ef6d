"""matches: index match_occurrences.changed_by

Revision ID: 0003b
Revises: 0003
Create Date: 2026-11-25 23:55:00

The foreign key to people had no index: `/mydata` and deleting a person (`/forgetme`, the
retention of people who left, ON DELETE SET NULL) scanned every meeting of every match,
25 ms per person with a year of 5,000 matches (bench/scale.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003b"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("match_occurrences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_match_occurrences_changed_by"), ["changed_by"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("match_occurrences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_match_occurrences_changed_by"))
